package pairing

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// QR is a pairing QR code: byte mode, error correction M (§15.1).
type QR struct {
	code *qrcode.QRCode
}

// NewQR encodes content (the payload JSON) as a QR code.
func NewQR(content []byte) (*QR, error) {
	q, err := qrcode.New(string(content), qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("encode pairing QR: %w", err)
	}
	return &QR{code: q}, nil
}

// Text renders the code for a terminal with half-block characters (two
// modules per character cell), quiet zone included. The default draws the
// light modules as blocks, which reads as dark-on-light on the usual
// light-on-dark console; invert draws the dark modules instead (for
// terminals with a light background).
func (q *QR) Text(invert bool) string {
	return q.code.ToSmallString(invert)
}

// PNG renders the code as a PNG image about size pixels wide (at least 4
// pixels per module), quiet zone included.
func (q *QR) PNG(size int) ([]byte, error) {
	modules := len(q.code.Bitmap())
	if size < modules*4 {
		size = modules * 4
	}
	return q.code.PNG(size)
}

// Bitmap returns the modules (true = dark), quiet zone included.
func (q *QR) Bitmap() [][]bool { return q.code.Bitmap() }
