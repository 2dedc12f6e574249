"""c3desk.terminal"""
