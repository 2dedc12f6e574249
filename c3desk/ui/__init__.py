"""c3desk.ui"""
