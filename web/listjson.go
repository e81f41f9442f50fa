package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"callrec/models"
)

// writeListJSON answers a list of recordings (GET /api/v1/recordings, and GET /api/v1/files
// for a pool's folder) with the bytes c.JSON would give for body(rows()) (TestRecordingListJSON,
// TestFolderListJSON compare them), written without reflection: encoding/json was about a
// third of the call's CPU. wrap appends the whole answer around the recordings' JSON array,
// which is kept in the listing's Memo under key (what it depends on besides the files: the
// customers' time zones), so a page asked for again is not encoded again. ?pretty (indented)
// and values the fast path does not cover (a time outside years 0-9999) go through c.JSON.
func writeListJSON(c echo.Context, page models.BrowsePage, key string, rows func() []recordingJSON,
	body func([]recordingJSON) any, wrap func(b, arr []byte) []byte) error {
	if _, pretty := c.QueryParams()["pretty"]; !pretty {
		if arr, ok := recordingsArray(page, key, rows); ok {
			buf := getBuffer()
			defer putBuffer(buf)
			buf.Write(wrap(buf.AvailableBuffer(), arr))
			h := c.Response().Header()
			h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
			h.Set(echo.HeaderContentLength, strconv.Itoa(buf.Len()))
			c.Response().WriteHeader(http.StatusOK)
			_, err := c.Response().Write(buf.Bytes())
			return err
		}
	}
	return c.JSON(http.StatusOK, body(rows()))
}

// folderListBody is the folder answer for encoding/json.
func folderListBody(folder string, folders []folderJSON, rows []recordingJSON, page models.BrowsePage) map[string]any {
	body := map[string]any{"folder": folder, "folders": folders, "files": rows, "total": page.Total, "total_more": page.TotalMore}
	if page.Next != "" {
		body["next_page"] = page.Next
	}
	if page.Prev != "" {
		body["prev_page"] = page.Prev
	}
	return body
}

// appendFolderList is folderListBody's JSON around arr, keys in encoding/json's order.
func appendFolderList(b []byte, folder string, folders []folderJSON, arr []byte, page models.BrowsePage) []byte {
	b = append(append(b, `{"files":`...), arr...)
	b = appendJSONString(append(b, `,"folder":`...), folder)
	b = append(b, `,"folders":`...)
	if folders == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, f := range folders {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(append(b, `{"name":`...), f.Name)
			b = appendJSONString(append(b, `,"path":`...), f.Path)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if page.Next != "" {
		b = appendJSONString(append(b, `,"next_page":`...), page.Next)
	}
	if page.Prev != "" {
		b = appendJSONString(append(b, `,"prev_page":`...), page.Prev)
	}
	b = strconv.AppendInt(append(b, `,"total":`...), page.Total, 10)
	b = strconv.AppendBool(append(b, `,"total_more":`...), page.TotalMore)
	return append(b, '}', '\n')
}

// recordingsArray is the JSON array of the page's recordings: from the listing's Memo, or made
// of rows() and kept there.
func recordingsArray(page models.BrowsePage, key string, rows func() []recordingJSON) ([]byte, bool) {
	if v, ok := page.Memo.Load(key); ok {
		return v.([]byte), true
	}
	b, ok := appendRecordingsJSON(nil, rows())
	if ok {
		page.Memo.Store(key, b)
	}
	return b, ok
}

// recordingListBody is the list answer for encoding/json.
func recordingListBody(rows []recordingJSON, page models.BrowsePage) map[string]any {
	body := map[string]any{"recordings": rows, "sort": page.Sort, "order": map[bool]string{true: "desc", false: "asc"}[page.Desc]}
	if page.Total >= 0 {
		body["total"], body["total_more"] = page.Total, page.TotalMore
	}
	if page.Next != "" {
		body["next_page"] = page.Next
	}
	if page.Prev != "" {
		body["prev_page"] = page.Prev
	}
	return body
}

// appendRecordingList is the list's JSON around arr (from appendRecordingsJSON), keys in
// encoding/json's (sorted) order, with a final newline as json.Encoder writes it.
func appendRecordingList(b, arr []byte, page models.BrowsePage) []byte {
	b = append(b, '{')
	if page.Next != "" {
		b = appendJSONString(append(b, `"next_page":`...), page.Next)
		b = append(b, ',')
	}
	b = append(b, `"order":`...)
	if page.Desc {
		b = append(b, `"desc"`...)
	} else {
		b = append(b, `"asc"`...)
	}
	if page.Prev != "" {
		b = appendJSONString(append(b, `,"prev_page":`...), page.Prev)
	}
	b = append(append(b, `,"recordings":`...), arr...)
	b = appendJSONString(append(b, `,"sort":`...), page.Sort)
	if page.Total >= 0 {
		b = strconv.AppendInt(append(b, `,"total":`...), page.Total, 10)
		b = strconv.AppendBool(append(b, `,"total_more":`...), page.TotalMore)
	}
	return append(b, '}', '\n')
}

// appendRecordingsJSON is rows as a JSON array; ok is false when a row needs encoding/json.
func appendRecordingsJSON(b []byte, rows []recordingJSON) ([]byte, bool) {
	ok := true
	b = append(b, '[')
	for i := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		var rowOK bool
		b, rowOK = appendRecordingJSON(b, &rows[i])
		ok = ok && rowOK
	}
	return append(b, ']'), ok
}

// appendRecordingJSON is one recordingJSON as encoding/json writes it (fields in declaration
// order, the embedded fileJSON's first).
func appendRecordingJSON(b []byte, r *recordingJSON) ([]byte, bool) {
	b = strconv.AppendUint(append(b, `{"id":`...), uint64(r.ID), 10)
	b = appendJSONString(append(b, `,"name":`...), r.Name)
	b = appendJSONString(append(b, `,"folder":`...), r.Folder)
	b = strconv.AppendInt(append(b, `,"size":`...), r.Size, 10)
	b = appendJSONString(append(b, `,"format":{"codec":`...), r.Format.Codec)
	b = strconv.AppendInt(append(b, `,"bits":`...), int64(r.Format.Bits), 10)
	b = strconv.AppendInt(append(b, `,"rate":`...), int64(r.Format.Rate), 10)
	b = strconv.AppendInt(append(b, `,"channels":`...), int64(r.Format.Channels), 10)
	b = strconv.AppendInt(append(b, `},"duration_ms":`...), r.DurationMS, 10)
	b = strconv.AppendBool(append(b, `,"ready":`...), r.Ready)
	b, ok := appendJSONTime(append(b, `,"created_at":`...), r.CreatedAt)
	b = appendJSONString(append(b, `,"path":`...), r.Path)
	b = append(b, `,"call_at":`...)
	if r.CallAt == nil {
		b = append(b, "null"...)
	} else {
		var callOK bool
		b, callOK = appendJSONTime(b, *r.CallAt)
		ok = ok && callOK
	}
	if r.PoolID != 0 {
		b = strconv.AppendUint(append(b, `,"pool_id":`...), uint64(r.PoolID), 10)
	}
	b = appendJSONString(append(b, `,"subscriber_id":`...), r.SubscriberID)
	b = appendJSONString(append(b, `,"start_number":`...), r.StartNumber)
	b = appendJSONString(append(b, `,"a":`...), r.A)
	b = appendJSONString(append(b, `,"b":`...), r.B)
	b = appendJSONString(append(b, `,"c":`...), r.C)
	b = strconv.AppendBool(append(b, `,"withheld":`...), r.Withheld)
	b = strconv.AppendBool(append(b, `,"name_parsed":`...), r.NameParsed)
	return append(b, '}'), ok
}

// appendJSONTime is time.Time's MarshalJSON (RFC 3339 with the fraction it has); ok is false
// where MarshalJSON fails (years outside 0-9999).
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// appendJSONString quotes s as encoding/json does (HTML characters escaped): plain printable
// ASCII is copied, anything else goes through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
