package sip

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"
)

// The destination leg's INVITE transaction: digest challenges answered (the library's
// WaitAnswer, with the trunk's credentials), reliable provisional responses PRACKed (RFC 3262),
// a 422 retried once with the callee's Min-SE (RFC 4028 6), a late offer answered in the ACK,
// and the session timer the 2xx grants armed.

// Wait blocks until the destination answers (returns its SDP) or fails (returns its status
// code, e.g. 486, and an error). Provisional responses go to progress as they come. Ending
// ctx cancels the INVITE. For a leg dialled without SDP, answer makes our answer to the offer
// in the 2xx (it goes in the ACK) and Wait returns the offer.
func (o *Outbound) Wait(ctx context.Context, progress func(code int, sdp []byte), answer func(offer []byte) ([]byte, error)) ([]byte, int, error) {
	opts := sipgo.AnswerOptions{Username: o.ua.cfg.TrunkUser, Password: o.ua.cfg.TrunkPassword,
		OnResponse: func(r *gosip.Response) error {
			if !r.IsProvisional() || r.StatusCode == 100 {
				return nil
			}
			reliable := o.prack(ctx, r)
			if reliable && len(r.Body()) > 0 {
				o.earlyAnswer = append([]byte(nil), r.Body()...)
			}
			if progress != nil {
				progress(r.StatusCode, r.Body())
			}
			return nil
		}}
	var err error
	for attempt := 0; ; attempt++ {
		err = o.dlg.WaitAnswer(ctx, opts)
		var e *sipgo.ErrDialogResponse
		if attempt == 0 && errors.As(err, &e) && e.Res.StatusCode == 422 {
			if min := minSEOf(e.Res); min > 0 && min <= 2*time.Hour {
				if err = o.retryIntervalTooSmall(ctx, min); err == nil {
					continue
				}
			}
		}
		break
	}
	if err != nil {
		o.ua.unregister(&o.Leg)
		var e *sipgo.ErrDialogResponse
		if errors.As(err, &e) {
			return nil, e.Res.StatusCode, err
		}
		return nil, 0, err
	}
	o.answered.Store(true)
	res := o.dlg.InviteResponse
	o.dialog.mu.Lock()
	o.dialog.remoteTag = tagOf(res.To())
	o.dialog.mu.Unlock()
	o.dialog.addPeer(sourceIP(res.Source()))
	o.dialog.addRouteSet(res)
	o.Leg.overStream(res.Transport(), res.Source())
	o.peerUpdate = allows(res, "UPDATE")
	body := res.Body()
	if o.late {
		if len(body) == 0 {
			_ = o.ack(ctx, nil)
			return nil, 200, ErrNoAnswer
		}
		ours, err := answer(body)
		if err != nil {
			_ = o.ack(ctx, nil)
			return body, 488, err
		}
		if err := o.ack(ctx, ours); err != nil {
			return nil, 0, err
		}
	} else if err := o.ack(ctx, nil); err != nil {
		return nil, 0, err
	}
	if len(body) == 0 {
		body = o.earlyAnswer // the answer came in a reliable provisional (RFC 3262 5)
	}
	if iv, refresher, ok := sessionExpires(res); ok {
		// refresher=uac is us; a 2xx naming none leaves it to us (RFC 4028 7.2).
		o.arm(iv, refresher != "uas", hasOption(res, "Require", "timer") || hasOption(res, "Supported", "timer"))
	}
	return body, 200, nil
}

// ack acknowledges the INVITE's 2xx, with sdp (the answer to a late offer) when given. It is
// built here rather than by the library's Ack, which copies nothing of ours: the configured
// User-Agent goes on it like on every request we send. The library fills in the dialog's
// From, To, Call-ID, the INVITE's CSeq and the route set.
func (o *Outbound) ack(ctx context.Context, sdp []byte) error {
	ack := gosip.NewRequest(gosip.ACK, o.target())
	c := o.ua.contact(o.transport)
	ack.AppendHeader(&c)
	if sdp != nil {
		ack.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
		ack.SetBody(sdp)
	}
	o.ua.stamp(ack)
	return o.dlg.WriteAck(ctx, ack)
}

// retryIntervalTooSmall sends the INVITE again with the session interval the callee's 422
// asks for (a new transaction, the next CSeq).
func (o *Outbound) retryIntervalTooSmall(ctx context.Context, min time.Duration) error {
	req := o.dlg.InviteRequest
	for req.RemoveHeader("Via") {
	}
	for req.RemoveHeader("Session-Expires") {
	}
	for req.RemoveHeader("Min-SE") {
	}
	req.AppendHeader(gosip.NewHeader("Session-Expires", secs(min)))
	req.AppendHeader(gosip.NewHeader("Min-SE", secs(min)))
	req.CSeq().SeqNo++
	return o.dlg.Invite(ctx)
}

// prack acknowledges a reliable provisional response (Require: 100rel with an RSeq) with
// PRACK, once per RSeq in order (RFC 3262 4: retransmissions and stale ones are not
// acknowledged again). It reports whether r was reliable.
func (o *Outbound) prack(ctx context.Context, r *gosip.Response) bool {
	if !hasOption(r, "Require", "100rel") {
		return false
	}
	h := r.GetHeader("RSeq")
	if h == nil {
		return false
	}
	rseq, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil || rseq == 0 {
		return false
	}
	if o.rseq != 0 && uint32(rseq) != o.rseq+1 {
		return true
	}
	o.rseq = uint32(rseq)
	target := o.dlg.InviteRequest.Recipient
	if c := r.Contact(); c != nil {
		target = c.Address
	}
	req := gosip.NewRequest(gosip.PRACK, *target.Clone())
	req.AppendHeader(gosip.NewHeader("RAck", fmt.Sprintf("%d %d INVITE", rseq, o.dlg.InviteRequest.CSeq().SeqNo)))
	c := o.ua.contact(o.transport)
	req.AppendHeader(&c)
	o.ua.stamp(req)
	// Built and sent here, on WaitAnswer's goroutine, while the dialog's last response is this
	// one (its To tag and route set); only the wait for PRACK's 200 runs apart.
	tx, err := o.dlg.TransactionRequest(ctx, req)
	if err != nil {
		o.ua.log.Info("PRACK not sent", "call_id", o.callID, "err", err)
		return true
	}
	go func() {
		defer tx.Terminate()
		t := time.NewTimer(32 * time.Second)
		defer t.Stop()
		for {
			select {
			case res := <-tx.Responses():
				if res.IsProvisional() {
					continue
				}
				if !res.IsSuccess() {
					o.ua.log.Info("PRACK refused", "call_id", o.callID, "code", res.StatusCode)
				}
				return
			case <-tx.Done():
				return
			case <-t.C:
				return
			}
		}
	}()
	return true
}
