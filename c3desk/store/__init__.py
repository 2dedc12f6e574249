"""c3desk.store"""
