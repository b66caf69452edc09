// Package simhost is a simulated board implementing gpio.Host: the embedded
// default when no GPIO chip is present (or with -sim), and the fake the
// bridge's tests drive.
//
// Outputs record their level and a history of changes; inputs are set or
// "pressed" from tests and deliver edges to WaitForEdge; PWM channels record
// frequency and duty; I²C buses carry register-level fakes of real sensors
// (BME280, SHT3x, BH1750, TMP102, ADS1115, INA219) whose readings drift
// plausibly over time, so the real drivers in internal/sensor run unchanged;
// serial ports are in-memory pipe pairs the test talks to; ReadFile serves a
// CPU thermal zone and a DS18B20 w1_slave file. New populates the demo
// devices; AddI2CDevice (any driver at any bus/address), AddW1Slave,
// AddThermalZone and AddSerial let meshbox mirror a user's config on the
// simulated board. Everything is per Board: no globals, safe for concurrent
// use.
package simhost
