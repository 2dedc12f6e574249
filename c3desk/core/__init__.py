"""c3desk.core"""
