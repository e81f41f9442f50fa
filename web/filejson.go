package web

import (
	"time"

	"callrec/models"
)

// formatJSON is an audio file's format as the API shows it.
type formatJSON struct {
	Codec    string `json:"codec"`
	Bits     int    `json:"bits"`
	Rate     int    `json:"rate"`
	Channels int    `json:"channels"`
}

// fileJSON is one file of the customer's tree in the API (announcements and recordings alike).
type fileJSON struct {
	ID         uint       `json:"id"`
	Name       string     `json:"name"`
	Folder     string     `json:"folder"`
	Size       int64      `json:"size"`
	Format     formatJSON `json:"format"`
	DurationMS int64      `json:"duration_ms"`
	Ready      bool       `json:"ready"`
	CreatedAt  time.Time  `json:"created_at"`
}

func toFileJSON(f models.File) fileJSON {
	return fileJSON{ID: f.ID, Name: f.Name, Folder: f.Folder, Size: f.Size,
		Format:     formatJSON{Codec: f.Codec, Bits: f.Bits, Rate: f.Rate, Channels: f.Channels},
		DurationMS: f.DurationMS, Ready: f.Ready, CreatedAt: f.CreatedAt}
}

func toFilesJSON(fs []models.File) []fileJSON {
	out := make([]fileJSON, len(fs))
	for i, f := range fs {
		out[i] = toFileJSON(f)
	}
	return out
}
