package bridge

import (
	"github.com/meshbox/meshbox/internal/config"
	"github.com/meshbox/meshbox/internal/gpio"
	"github.com/meshbox/meshbox/internal/sensor"
)

// DefaultOpenSensor opens s with the internal/sensor drivers.
func DefaultOpenSensor(host gpio.Host, s config.Sensor) (SensorReader, error) {
	return sensor.Open(s.Driver, host, s.Bus, s.Address, s.Path)
}
