package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"callrec/media/audio"
	"callrec/models"
	"callrec/models/files"
	"callrec/templates"
)

// The announcement slots of a pool's Call Recording module: each plays the standard prompt, an
// edited text rendered to speech, or a chosen file; the player plays exactly that.

// announcementsHandler is the announcement slots of a pool and the customer's announcement
// files (upload, conversion, playback, deletion).
type announcementsHandler struct {
	store       *models.Store
	tree        dataTree
	views       views
	log         *slog.Logger
	maxUpload   int64         // the upload limit, shown on the form
	maxDuration time.Duration // the longest announcement (upload and conversion); 0: the default
	// The shipped default prompt audio and a text as the speech engine should read it (see
	// Config).
	defaultPrompt func(slot, lang string) []byte
	speakable     func(text, lang string) string
}

// poolSection is the pool page's announcements module, shown while Call Recording is booked
// (none otherwise).
func (h *announcementsHandler) poolSection(c echo.Context, p models.Pool) ([]templ.Component, error) {
	ctx := c.Request().Context()
	a := actorOf(c)
	cr, err := h.store.CallRecordingOf(ctx, a, p.ID)
	if err != nil || !cr.Booked() || len(cr.Announcements) == 0 {
		return nil, err
	}
	as := cr.Announcements
	fs, err := h.customerFiles(c, p.CustomerID)
	if err != nil {
		return nil, err
	}
	props := templates.AnnouncementsProps{PoolID: p.ID, Lang: playedLang(p), CanEdit: a.IsAdmin()}
	noSpeech := !speechInstalled()
	for _, an := range as {
		v := h.slotView(p, an, fs, a.IsAdmin())
		v.CSRF, v.NoSpeech = h.views.csrfToken(c), noSpeech
		props.Slots = append(props.Slots, v)
	}
	return []templ.Component{templates.Announcements(props)}, nil
}

// customerFiles are the announcement files of one customer (the platform admin sees all).
func (h *announcementsHandler) customerFiles(c echo.Context, customerID uint) ([]models.File, error) {
	all, err := h.store.AnnouncementFiles(c.Request().Context(), actorOf(c))
	if err != nil {
		return nil, err
	}
	var out []models.File
	for _, f := range all {
		if f.CustomerID == customerID {
			out = append(out, f)
		}
	}
	return out, nil
}

// speechInstalled tells the slot form up front whether texts can be spoken here (audio.Speak
// runs espeak-ng from PATH and answers ErrNoSpeechEngine without it).
func speechInstalled() bool {
	_, err := exec.LookPath("espeak-ng")
	return err == nil
}

// playedLang is the language callers hear: the customer's Control Panel language, fr -> en.
func playedLang(p models.Pool) string {
	if p.Customer == nil {
		return "de"
	}
	return models.PromptLang(p.Customer.Language)
}

func (h *announcementsHandler) slotView(p models.Pool, an models.Announcement, fs []models.File, canEdit bool) templates.AnnouncementSlot {
	lang := playedLang(p)
	v := templates.AnnouncementSlot{PoolID: p.ID, Slot: an.Slot, Source: an.Source, Lang: lang, CanEdit: canEdit,
		Text: an.TextEN, AudioURL: "/pools/" + strconv.Itoa(int(p.ID)) + "/announcements/" + an.Slot + "/audio?v=" +
			strconv.FormatInt(an.UpdatedAt.UnixNano(), 36)}
	if lang == "de" {
		v.Text = an.TextDE
	}
	if an.FileID != nil {
		v.FileID = *an.FileID
	}
	for _, f := range fs {
		if f.ID == v.FileID {
			v.FileName = f.Name
		}
		if f.Ready {
			v.Files = append(v.Files, f)
		}
	}
	return v
}

// announcementAudio streams what callers hear in a slot: the default prompt, the rendered text
// or the chosen file.
func (h *announcementsHandler) announcementAudio(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, an, err := h.store.AnnouncementSlot(ctx, actorOf(c), id, c.Param("slot"))
	if err != nil {
		return err
	}
	lang := playedLang(p)
	rel, err := h.store.PlayedAudio(ctx, an, lang)
	if err != nil {
		return err
	}
	if rel != "" {
		// Like the engine: a file gone from disk falls back to the standard prompt.
		err := h.tree.serve(c, rel, an.Slot+"."+lang+".wav")
		if !errors.Is(err, models.ErrNotFound) {
			return err
		}
	}
	var wav []byte
	if h.defaultPrompt != nil {
		wav = h.defaultPrompt(an.Slot, lang)
	}
	if len(wav) == 0 {
		// Without the hook, the copy serve installs for the engine (prompts/<slot>.<lang>.wav).
		return h.tree.serve(c, "prompts/"+an.Slot+"."+lang+".wav", an.Slot+"."+lang+".wav")
	}
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderContentType, "audio/wav")
	hdr.Set("Cache-Control", "private, no-store")
	http.ServeContent(c.Response(), c.Request(), an.Slot+"."+lang+".wav", time.Time{}, bytes.NewReader(wav))
	return nil
}

// changeAnnouncement sets a slot's source. A text is rendered to speech first, into a new file;
// the slot switches to it only when it exists, so the previous audio plays until then.
func (h *announcementsHandler) changeAnnouncement(c echo.Context, poolID uint, slot, source, text string, fileID uint) (models.Pool, models.Announcement, error) {
	ctx := c.Request().Context()
	a := actorOf(c)
	p, an, err := h.store.AnnouncementSlot(ctx, a, poolID, slot)
	if err != nil {
		return p, an, err
	}
	lang := playedLang(p)
	ch := models.AnnouncementChange{Source: source, Lang: lang, FileID: fileID}
	var tree *files.Tree
	if source == models.SourceText {
		if ch.Text, err = models.CheckAnnouncementText(text); err != nil {
			return p, an, err
		}
		if tree, err = h.tree.open(); err != nil {
			return p, an, err
		}
		defer tree.Close()
		if ch.Audio, err = h.renderSpeech(c, tree, p, slot, lang, ch.Text); err != nil {
			return p, an, err
		}
	}
	old, cur, err := h.store.SetAnnouncement(ctx, a, c.RealIP(), poolID, slot, ch)
	if err != nil {
		if ch.Audio != "" {
			_ = h.tree.remove(context.WithoutCancel(ctx), ch.Audio)
		}
		return p, an, err
	}
	if ch.Audio != "" {
		prev := old.AudioEN
		if lang == "de" {
			prev = old.AudioDE
		}
		if prev != "" && prev != ch.Audio && strings.HasPrefix(prev, models.AnnouncementFolder(p.Customer.SubscriberID)+"/tts/") {
			_ = h.tree.remove(ctx, prev)
		}
	}
	return p, cur, nil
}

// renderSpeech speaks text with espeak-ng into announcements/<sub>/tts/ and returns the path.
func (h *announcementsHandler) renderSpeech(c echo.Context, tree *files.Tree, p models.Pool, slot, lang, text string) (string, error) {
	if p.Customer == nil {
		return "", errors.New("web: pool without customer")
	}
	spoken := text
	if h.speakable != nil {
		spoken = h.speakable(text, lang)
	}
	want := models.AnnouncementFolder(p.Customer.SubscriberID) + "/tts/pool" + strconv.Itoa(int(p.ID)) + "_" + slot + "_" + lang + "_" +
		strconv.FormatInt(time.Now().UnixNano(), 36) + ".wav"
	tmp, err := h.tree.createTemp(tree, want)
	if err != nil {
		return "", err
	}
	defer tmp.release()
	if err := audio.Speak(c.Request().Context(), spoken, lang, tmp); err != nil {
		return "", err // without espeak-ng: audio.ErrNoSpeechEngine, which answers as models.ErrNoSpeechEngine
	}
	rel, _, err := tmp.commit(c.Request().Context(), want)
	return rel, err
}

// announcementSave is the slot form: htmx swaps the slot with the answer (errors beside the
// fields, 422); without script the answer is a page with the slot alone.
func (h *announcementsHandler) announcementSave(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	slot := c.Param("slot")
	var fileID uint
	if v := c.FormValue("file_id"); v != "" {
		n, _ := strconv.ParseUint(v, 10, 32)
		fileID = uint(n)
	}
	source, text := c.FormValue("source"), c.FormValue("text")
	p, cur, err := h.changeAnnouncement(c, id, slot, source, text, fileID)
	status := http.StatusOK
	errs := templates.Errors{}
	if err != nil {
		// The slot's form shows what is wrong beside the field, as every form does (422).
		if fErrs, ok := formErrors(err); ok {
			status, errs = http.StatusUnprocessableEntity, fErrs
		} else if errors.Is(err, audio.ErrNoSpeechEngine) {
			status, errs["text"] = http.StatusUnprocessableEntity, models.ErrNoSpeechEngine.Key
		} else {
			return err
		}
		if p.ID == 0 {
			return err
		}
	}
	fs, ferr := h.customerFiles(c, p.CustomerID)
	if ferr != nil {
		return ferr
	}
	v := h.slotView(p, cur, fs, true)
	v.Errors, v.CSRF, v.NoSpeech = errs, h.views.csrfToken(c), !speechInstalled()
	if err != nil {
		// Keep what the user typed or chose, so a failed save loses nothing.
		v.Source, v.FileID = source, fileID
		if source == models.SourceText {
			v.Text = text
		}
	} else {
		v.Saved = true
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		return render(c, status, templates.AnnouncementSlotCard(v))
	}
	if err == nil {
		h.views.flash(c, "flash.saved")
		return redirect(c, "/pools/"+strconv.Itoa(int(id))+"#ann-"+slot)
	}
	return render(c, status, templates.AnnouncementSlotPage(h.views.page(c, "announce.title", "pools"), v))
}

// announcementJSON is a slot in the API.
type announcementJSON struct {
	Slot      string    `json:"slot"`
	Source    string    `json:"source"`
	Language  string    `json:"language"` // the played language
	TextDE    string    `json:"text_de"`
	TextEN    string    `json:"text_en"`
	FileID    *uint     `json:"file_id"`
	UpdatedAt time.Time `json:"updated_at"`
}

type announcementPut struct {
	Source string `json:"source"`
	Text   string `json:"text"`
	FileID uint   `json:"file_id"`
}

func (h *announcementsHandler) apiAnnouncementPut(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in announcementPut
	if err := c.Bind(&in); err != nil {
		if isTooLarge(err) {
			return models.ErrTooLarge
		}
		return models.ErrBadRequest.With("the body must be JSON")
	}
	p, an, err := h.changeAnnouncement(c, id, c.Param("slot"), in.Source, in.Text, in.FileID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, announcementJSON{Slot: an.Slot, Source: an.Source, Language: playedLang(p),
		TextDE: an.TextDE, TextEN: an.TextEN, FileID: an.FileID, UpdatedAt: an.UpdatedAt})
}
