# Frozen modules of the unix firmware.
freeze("$(PYMESH_DIR)/mpy_module/frozen", "socket.py")
