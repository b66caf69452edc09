package layout

// Layout is the app's LayoutConfig (§14.1), as far as meshbox fills it.
type Layout struct {
	Name        string      `json:"name"`
	Version     int         `json:"version"`
	HeaderTitle string      `json:"headerTitle,omitempty"`
	AccentColor string      `json:"accentColor,omitempty"`
	Connection  *Connection `json:"connection,omitempty"`
	State       *State      `json:"state,omitempty"`
	Tabs        []Tab       `json:"tabs"`
}

// Connection is the layout's connection block (§15.2).
type Connection struct {
	URL      string   `json:"url"`
	Token    *string  `json:"token"` // null for an open relay
	Identity Identity `json:"identity"`
	Hub      string   `json:"hub,omitempty"`
	// Mode is "room" (the group cipher, §15.5) whenever E2EEKey is set.
	Mode    string  `json:"mode,omitempty"`
	E2EEKey *string `json:"e2eeKey,omitempty"` // base64 room key; nil = not encrypted
}

// Identity holds the identify fields, camelCase as in the app's schema.
type Identity struct {
	Channel      string `json:"channel"`
	Role         string `json:"role"`
	CanBroadcast bool   `json:"canBroadcast"`
	CanRoute     bool   `json:"canRoute"`
}

// State is the late-joiner state contract (§14.9).
type State struct {
	Sync         bool   `json:"sync"`
	Authority    string `json:"authority"`
	Acks         bool   `json:"acks"`
	AckTimeoutMs int    `json:"ackTimeoutMs,omitempty"`
}

// Tab is a TabDefinition (§14.2).
type Tab struct {
	Title    string    `json:"title"`
	Icon     string    `json:"icon"`
	Grid     Grid      `json:"grid"`
	Children []Control `json:"children"`
}

// Grid is a tab's grid.
type Grid struct {
	Columns   int    `json:"columns"`
	Rows      int    `json:"rows"`
	Mode      string `json:"mode"`
	RowHeight int    `json:"rowHeight"`
}

// Control is a ControlDefinition (§14.3/§14.4) with the fields meshbox uses.
type Control struct {
	Type            string            `json:"type"`
	ID              string            `json:"id"`
	Position        [2]int            `json:"position"`
	Span            [2]int            `json:"span"`
	Label           string            `json:"label,omitempty"`
	Icon            string            `json:"icon,omitempty"`
	Tint            string            `json:"tint,omitempty"`
	Style           string            `json:"style,omitempty"`
	DefaultValue    any               `json:"defaultValue,omitempty"`
	Min             *float64          `json:"min,omitempty"`
	Max             *float64          `json:"max,omitempty"`
	Step            *float64          `json:"step,omitempty"`
	FormatValue     string            `json:"formatValue,omitempty"`
	GaugeStyle      string            `json:"gaugeStyle,omitempty"`
	SparklinePoints int               `json:"sparklinePoints,omitempty"`
	SparklineFill   bool              `json:"sparklineFill,omitempty"`
	StatusColors    map[string]string `json:"statusColors,omitempty"`
	ShowTimestamps  bool              `json:"showTimestamps,omitempty"` // logConsole
	AutoScroll      bool              `json:"autoScroll,omitempty"`     // logConsole
	Haptic          string            `json:"haptic,omitempty"`
	Action          *Action           `json:"action,omitempty"`
	Sync            []Sync            `json:"sync,omitempty"`
}

// Action is a control's action (§14.6).
type Action struct {
	Method  string         `json:"method"`
	Mode    string         `json:"mode"`
	Event   string         `json:"event"`
	Payload map[string]any `json:"payload"`
}

// Sync is one sync entry (§14.5).
type Sync struct {
	Method    string         `json:"method"`
	Type      string         `json:"type"`
	Event     string         `json:"event"`
	Filter    map[string]any `json:"filter,omitempty"`
	ValuePath string         `json:"valuePath,omitempty"`
}
