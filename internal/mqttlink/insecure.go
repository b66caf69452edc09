package mqttlink

// warnInsecure warns, once at start, when commands are taken over a plain
// connection without credentials: then anyone who can reach the broker
// (or sits on the network path to it) can publish to <base>/+/set and move
// the box's outputs.
func (l *Link) warnInsecure() {
	o := l.opts
	scheme := ""
	if o.URL != nil {
		scheme = o.URL.Scheme
	}
	switch {
	case o.TLS == nil && o.Username == "":
		l.log.Warn("mqtt: commands are taken over an unauthenticated plain connection: any client of the broker can switch this box's outputs; use mqtts:// and a broker user (mqtt.username, mqtt.password) with an ACL on "+o.Base+"/+/set",
			"scheme", scheme, "set_topics", o.Base+"/+/set")
	case o.TLS == nil:
		l.log.Warn("mqtt: plain connection: the broker password and every command travel unencrypted; use mqtts://",
			"scheme", scheme, "username", o.Username)
	}
}
