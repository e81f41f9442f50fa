package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"callrec/models"
	"callrec/templates"
)

// homeHandler is the start page after login: a customer's pools with their Call Recording
// module, today's and this week's calls and recordings, the calls going on now and the failed
// recordings; the platform admin's customers, the platform's totals and the nodes (the Nodes
// page's rows, and this node's engine with its trunk registration).
type homeHandler struct {
	store *models.Store
	views views
	live  *liveHandler
	nodes *nodesHandler
}

// dayAndWeek are the starts of now's day and week (Monday) in loc.
func dayAndWeek(now time.Time, loc *time.Location) (day, week time.Time) {
	n := now.In(loc)
	day = time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, loc)
	back := (int(n.Weekday()) + 6) % 7 // days since Monday
	return day, day.AddDate(0, 0, -back)
}

func homeCounts(c models.Counts) templates.HomeCounts {
	return templates.HomeCounts{CallsToday: c.CallsToday, CallsWeek: c.CallsWeek,
		RecordingsToday: c.RecordingsToday, RecordingsWeek: c.RecordingsWeek, Failed: c.Failed}
}

func (h *homeHandler) home(c echo.Context) error {
	ctx := c.Request().Context()
	a := actorOf(c)
	day, week := dayAndWeek(time.Now(), userLocation(c))
	p := templates.HomeProps{Page: h.views.page(c, "home.title", "home"), Platform: a.IsPlatformAdmin(),
		CanBook: a.IsAdmin() && !a.IsPlatformAdmin()}
	calls, _, err := h.live.liveCalls(ctx, a)
	switch {
	case errors.Is(err, models.ErrEngineNotRunning):
		p.EngineDown = true
	case err != nil:
		return err
	}
	p.Live = len(calls)
	if a.IsPlatformAdmin() {
		cs, total, err := h.store.PlatformOverview(ctx, a, day, week)
		if err != nil {
			return err
		}
		p.Totals = homeCounts(total)
		ns, err := h.nodes.list(ctx, a)
		if err != nil {
			return err
		}
		p.Nodes, p.Clustered, p.Engine = h.nodes.rows(c, ns), h.nodes.clustered(ns), h.nodes.engineState(c)
		for _, o := range cs {
			p.Customers = append(p.Customers, templates.HomeCustomer{ID: o.Customer.ID, Name: o.Customer.Name,
				SubscriberID: o.Customer.SubscriberID, Pools: o.Pools, BookedPools: o.BookedPools, FTPAccess: o.FTPAccess,
				Counts: homeCounts(o.Counts)})
		}
		return render(c, http.StatusOK, templates.Home(p))
	}
	pools, err := h.store.Overview(ctx, a, day, week)
	if err != nil {
		return err
	}
	var total models.Counts
	for _, o := range pools {
		hp := templates.HomePool{ID: o.Pool.ID, Name: o.Pool.Name, StartNumber: o.Pool.StartNumber,
			State: models.StateNotBooked, Counts: homeCounts(o.Counts)}
		if o.Booking != nil {
			hp.State = o.Booking.State()
		}
		if o.Settings != nil {
			hp.Enabled, hp.Mode, hp.Channels, hp.Retention = o.Settings.Enabled, o.Settings.Mode, o.Settings.Channels, o.Settings.RetentionDays
		}
		if a.MayOpenRecordings() && o.Pool.Customer != nil {
			hp.FilesHref = "/files/" + models.RecordingsRoot + "/" + o.Pool.Customer.SubscriberID + "/" + o.Pool.StartNumber
		}
		total.CallsToday += o.CallsToday
		total.CallsWeek += o.CallsWeek
		total.RecordingsToday += o.RecordingsToday
		total.RecordingsWeek += o.RecordingsWeek
		total.Failed += o.Failed
		p.Pools = append(p.Pools, hp)
	}
	p.Totals = homeCounts(total)
	return render(c, http.StatusOK, templates.Home(p))
}
