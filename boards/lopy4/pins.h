// Pycom LoPy4: ESP32 GPIOs of the SX1276 LoRa radio (see README.md; the Rust constants are in
// src/lib.rs, and a test keeps the two equal).
#ifndef PYMESH_BOARD_LOPY4_PINS_H
#define PYMESH_BOARD_LOPY4_PINS_H
#define PYMESH_RADIO_CHIP_SX1276 (1)
#define PYMESH_PIN_SPI_SCK (5)
#define PYMESH_PIN_SPI_MOSI (27)
#define PYMESH_PIN_SPI_MISO (19)
#define PYMESH_PIN_RADIO_NSS (18)
#define PYMESH_PIN_RADIO_RESET (-1)
#define PYMESH_PIN_RADIO_DIO0 (23)
#endif
