"""c3desk.transports"""
