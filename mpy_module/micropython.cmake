# MicroPython user C module for CMake-based ports (esp32): network.LoRa, LoRa.Mesh.
# PYMESH_INCLUDE (generated header) and PYMESH_RUST_LIB (the board's Rust static library) are
# passed on the command line; see boards/lopy4/README.md.
add_library(usermod_pymesh INTERFACE)

target_sources(usermod_pymesh INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modnetwork.c
    ${CMAKE_CURRENT_LIST_DIR}/lora.c
    ${CMAKE_CURRENT_LIST_DIR}/mesh.c
    ${CMAKE_CURRENT_LIST_DIR}/hooks.c
    ${CMAKE_CURRENT_LIST_DIR}/socket.c
)

target_include_directories(usermod_pymesh INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
    ${PYMESH_INCLUDE}
)

target_link_libraries(usermod_pymesh INTERFACE ${PYMESH_RUST_LIB})
target_link_libraries(usermod INTERFACE usermod_pymesh)
