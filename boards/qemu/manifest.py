# Frozen modules of the qemu firmware.
freeze("$(PYMESH_DIR)/mpy_module/frozen", "socket.py")
