// Package sensor holds the sensor drivers the bridge reads periodically:
// I²C devices written on periph.io/x/conn/v3 (BME280/BMP280, SHT3x, BH1750,
// ADS1115, INA219, TMP102/LM75/TMP105), sysfs devices (DS18B20 over 1-Wire,
// the CPU temperature) and a self-contained drifting "sim" sensor.
//
// Every driver implements Sensor; Open builds one by driver name on a
// gpio.Host, and Drivers describes every driver (aliases, valid addresses,
// fields) so the config loader can validate a file without opening hardware.
package sensor
