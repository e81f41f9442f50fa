package models

import (
	"context"
	"errors"

	"gorm.io/gorm"
)

// AnnouncementsRoot is the top folder of uploaded and converted announcements; each customer has
// announcements/<subscriberId>, rendered speech goes to its tts/ sub-folder (files without rows).
const AnnouncementsRoot = "announcements"

// AnnouncementFolder is the folder a customer's announcement files live in.
func AnnouncementFolder(subscriberID string) string { return AnnouncementsRoot + "/" + subscriberID }

// AnnouncementFiles lists the announcement files a may see (all customers' for the platform
// admin), by folder and name. The File Browser lists folder "announcements..." through this.
func (s *Store) AnnouncementFiles(ctx context.Context, a Actor) ([]File, error) {
	var fs []File
	err := a.customerScope(s.db.WithContext(ctx)).Where("kind = ?", KindAnnouncement).
		Order("folder, name, id").Find(&fs).Error
	return fs, err
}

// AnnouncementCustomer is the customer whose announcements folder a works in: a customer user's
// own; the platform admin names one (customerID), anyone else naming a foreign one gets
// ErrNotFound. Only admins may change files (ErrForbidden).
func (s *Store) AnnouncementCustomer(ctx context.Context, a Actor, customerID uint) (Customer, error) {
	if !a.IsAdmin() {
		return Customer{}, ErrForbidden
	}
	if !a.IsPlatformAdmin() {
		if customerID != 0 && customerID != a.CustomerID {
			return Customer{}, ErrNotFound
		}
		customerID = a.CustomerID
	}
	if customerID == 0 {
		return Customer{}, ValidationError{{"customer", ErrCustomerRequired}}
	}
	var c Customer
	err := s.db.WithContext(ctx).First(&c, customerID).Error
	return c, notFound(err)
}

// CreateAnnouncementFile records an announcement file that is now on disk in the customer's
// folder (f.Path, f.Folder, f.Name and the format set by the caller) and audits it.
func (s *Store) CreateAnnouncementFile(ctx context.Context, a Actor, ip string, c Customer, f *File, kind string) error {
	if !a.IsAdmin() || (!a.IsPlatformAdmin() && a.CustomerID != c.ID) {
		return ErrForbidden
	}
	f.CustomerID, f.Kind, f.Folder = c.ID, KindAnnouncement, AnnouncementFolder(c.SubscriberID)
	if f.Path != f.Folder+"/"+f.Name {
		return errors.New("models: announcement file outside its customer's folder")
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(f).Error; err != nil {
			return err
		}
		return s.in(tx).Audit(ctx, AuditEntry{CustomerID: c.ID, Actor: a, IP: ip, Kind: kind,
			Object: f.Path, New: fileAudit(*f)})
	})
}

// DeleteAnnouncementFile forgets an announcement file (admins only) and returns it, so the caller
// removes it from disk. A file chosen for a slot is ErrFileInUse.
func (s *Store) DeleteAnnouncementFile(ctx context.Context, a Actor, ip string, id uint) (File, error) {
	f, err := s.FileByID(ctx, a, id)
	if err != nil {
		return File{}, err
	}
	if f.Kind != KindAnnouncement {
		return File{}, ErrNotFound
	}
	if !a.IsAdmin() {
		return File{}, ErrForbidden
	}
	err = s.transaction(ctx, func(tx *gorm.DB) error {
		// A slot choosing the file meanwhile (SetAnnouncement) would be left pointing at nothing.
		if err := s.d.lock(tx, announcementFilesLock(f.CustomerID)); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&Announcement{}).Where("source = ? AND file_id = ?", SourceFile, f.ID).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return ErrFileInUse
		}
		// Slots that once chose this file but moved on keep no dangling reference.
		if err := tx.Model(&Announcement{}).Where("file_id = ?", f.ID).Update("file_id", nil).Error; err != nil {
			return err
		}
		if err := tx.Delete(&File{}, f.ID).Error; err != nil {
			return err
		}
		return s.in(tx).Audit(ctx, AuditEntry{CustomerID: f.CustomerID, Actor: a, IP: ip,
			Kind: "file.deleted", Object: f.Path, Old: fileAudit(f)})
	})
	return f, err
}

// announcementFilesLock is the lock under which a customer's announcement files are chosen for
// slots and deleted.
func announcementFilesLock(customerID uint) string {
	return "announcement files " + customerObject(customerID)
}

func fileAudit(f File) map[string]any {
	return map[string]any{"id": f.ID, "path": f.Path, "size": f.Size, "codec": f.Codec, "bits": f.Bits,
		"rate": f.Rate, "channels": f.Channels, "duration_ms": f.DurationMS, "ready": f.Ready}
}
