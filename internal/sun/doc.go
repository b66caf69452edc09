// Package sun computes sunrise and sunset for a place and date with NOAA's
// solar calculation (the equations of the NOAA Solar Calculator and its
// spreadsheets, gml.noaa.gov/grad/solcalc/calcdetails.html): the sun's
// declination and the equation of time for the Julian century, and the
// hour angle of a zenith of 90.833° (refraction and the solar disc).
// Accurate to about a minute between ±72° latitude; no network, no tables.
package sun
