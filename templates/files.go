package templates

import "strconv"

// fmtF formats a coordinate or a second count for SVG attributes and data-seek.
func fmtF(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
