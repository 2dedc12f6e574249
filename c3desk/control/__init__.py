"""c3desk.control"""
