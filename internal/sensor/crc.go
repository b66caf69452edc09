package sensor

// CRC8Sensirion is the SHT3x checksum: CRC-8, polynomial 0x31, init 0xFF,
// no reflection (datasheet §4.12: CRC(0xBEEF) = 0x92).
func CRC8Sensirion(b []byte) byte {
	crc := byte(0xFF)
	for _, x := range b {
		crc ^= x
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// CRC8Dallas is the 1-Wire (Maxim) CRC-8: polynomial x^8+x^5+x^4+1,
// reflected (0x8C), init 0. A scratchpad with its CRC appended checks to 0.
func CRC8Dallas(b []byte) byte {
	crc := byte(0)
	for _, x := range b {
		for range 8 {
			mix := (crc ^ x) & 1
			crc >>= 1
			if mix != 0 {
				crc ^= 0x8C
			}
			x >>= 1
		}
	}
	return crc
}
