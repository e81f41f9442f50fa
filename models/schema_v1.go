package models

import "time"

// The tables as they were when versioned migrations began (migration 1), frozen: migration 1
// creates exactly these on a new database and brings a database made by an older build (which
// created its tables with GORM's AutoMigrate from the models of its day) up to them. The live
// models change after this point only through later migrations, so these copies must never be
// edited: a field added to a model gets its column from a new migration (ARCHITECTURE.md).

type v1Customer struct {
	ID           uint   `gorm:"primaryKey"`
	Name         string `gorm:"not null"`
	SubscriberID string `gorm:"uniqueIndex;not null"`
	Language     string `gorm:"not null;default:de"`
	TimeZone     string `gorm:"not null;default:Europe/Berlin"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

type v1User struct {
	ID                uint  `gorm:"primaryKey"`
	CustomerID        *uint `gorm:"index"`
	Customer          *v1Customer
	Username          string `gorm:"uniqueIndex;not null"`
	PasswordHash      string `gorm:"not null"`
	Role              string `gorm:"not null"`
	CanOpenRecordings bool
	Language          string
	Disabled          bool
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

type v1Pool struct {
	ID          uint `gorm:"primaryKey"`
	CustomerID  uint `gorm:"index;not null"`
	Customer    *v1Customer
	Name        string         `gorm:"not null"`
	StartNumber string         `gorm:"not null"`
	Destination string         `gorm:"not null"`
	Numbers     []v1PoolNumber `gorm:"foreignKey:PoolID"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

type v1PoolNumber struct {
	ID     uint   `gorm:"primaryKey"`
	PoolID uint   `gorm:"index;not null"`
	Number string `gorm:"uniqueIndex;not null"`
}

type v1PriceItem struct {
	ID           uint   `gorm:"primaryKey"`
	Module       string `gorm:"uniqueIndex;not null"`
	MonthlyCents int64  `gorm:"not null"`
	Currency     string `gorm:"not null;default:EUR"`
}

type v1APIToken struct {
	ID         uint   `gorm:"primaryKey"`
	UserID     uint   `gorm:"index;not null"`
	Name       string `gorm:"not null"`
	Hash       string `gorm:"uniqueIndex;not null"`
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

type v1AuditEvent struct {
	ID         uint      `gorm:"primaryKey"`
	CustomerID uint      `gorm:"index:idx_audit_customer_time,priority:1;index:idx_audit_customer_kind,priority:1"`
	At         time.Time `gorm:"index:idx_audit_customer_time,priority:2;index:idx_audit_customer_kind,priority:3;not null"`
	UserID     uint
	Username   string
	IP         string
	Kind       string `gorm:"index:idx_audit_customer_kind,priority:2;not null"`
	Object     string
	OldValue   string
	NewValue   string
}

type v1File struct {
	ID         uint   `gorm:"primaryKey"`
	CustomerID uint   `gorm:"not null;index:idx_files_folder,priority:1"`
	Folder     string `gorm:"not null;index:idx_files_folder,priority:2"`
	Name       string `gorm:"not null;index:idx_files_folder,priority:3"`
	Path       string `gorm:"uniqueIndex;not null"`
	Kind       string `gorm:"not null"`
	Size       int64
	Codec      string
	Bits       int
	Rate       int
	Channels   int
	DurationMS int64
	Ready      bool
	CallAt     *time.Time `gorm:"index"`
	A, B, C    string
	PoolID     uint `gorm:"index"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

type v1Call struct {
	ID         uint   `gorm:"primaryKey"`
	EngineID   string `gorm:"uniqueIndex;not null"`
	CustomerID uint   `gorm:"not null;index:idx_calls_customer_arrival,priority:1;index:idx_calls_customer_pool_arrival,priority:1"`
	PoolID     uint   `gorm:"index;index:idx_calls_customer_pool_arrival,priority:2"`
	A, B, C    string
	Arrival    time.Time `gorm:"not null;index:idx_calls_customer_arrival,priority:2;index:idx_calls_customer_pool_arrival,priority:3"`
	Answered   *time.Time
	Bridged    *time.Time
	Ended      *time.Time
	State      string
	RecState   string
	Mode       string
	Outcome    string `gorm:"index"`
	DurationMS int64
	RecordedMS int64
	Events     []v1CallEvent `gorm:"foreignKey:CallID;constraint:OnDelete:CASCADE"`
	Recording  *v1Recording  `gorm:"foreignKey:CallID"`
	UpdatedAt  time.Time
}

type v1CallEvent struct {
	ID       uint `gorm:"primaryKey"`
	CallID   uint `gorm:"index;not null"`
	Seq      int
	At       time.Time
	OffsetMS int64
	Kind     string
	By       string
	Detail   string
}

type v1Recording struct {
	ID         uint   `gorm:"primaryKey"`
	CustomerID uint   `gorm:"index;not null"`
	PoolID     uint   `gorm:"index"`
	CallID     uint   `gorm:"uniqueIndex;not null"`
	FileID     uint   `gorm:"index"`
	Path       string `gorm:"uniqueIndex;not null"`
	Channels   int
	Size       int64
	DurationMS int64
	RecordedMS int64
	Segments   string
	Status     string `gorm:"index"`
	Failure    string
	Peaks      []byte
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

type v1Announcement struct {
	ID        uint   `gorm:"primaryKey"`
	PoolID    uint   `gorm:"not null;uniqueIndex:idx_announcement_slot,priority:1"`
	Slot      string `gorm:"not null;uniqueIndex:idx_announcement_slot,priority:2"`
	Source    string `gorm:"not null;default:default"`
	TextDE    string
	TextEN    string
	AudioDE   string
	AudioEN   string
	FileID    *uint
	UpdatedAt time.Time
}

type v1ModuleBooking struct {
	ID            uint   `gorm:"primaryKey"`
	CustomerID    uint   `gorm:"not null;index:idx_booking_module,priority:1"`
	PoolID        uint   `gorm:"not null;index:idx_booking_module,priority:2"`
	Module        string `gorm:"not null;index:idx_booking_module,priority:3"`
	BookedAt      time.Time
	BookedByID    uint
	BookedByName  string
	IP            string
	NoticeVersion string
	NoticeLang    string
	PriceCents    int64
	Currency      string
	CancelledAt   *time.Time
	CancelledByID uint
	CancelledBy   string
}

type v1CallRecordingSettings struct {
	PoolID             uint `gorm:"primaryKey;autoIncrement:false"`
	Enabled            bool
	Mode               string `gorm:"not null"`
	CallerAnnouncement bool
	Channels           string `gorm:"not null"`
	RetentionDays      int
	UpdatedAt          time.Time
}

type v1FTPCredential struct {
	ID           uint   `gorm:"primaryKey"`
	CustomerID   uint   `gorm:"uniqueIndex;not null"`
	Username     string `gorm:"uniqueIndex;not null"`
	PasswordHash string `gorm:"not null"`
	SetBy        string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (v1Customer) TableName() string              { return "customers" }
func (v1User) TableName() string                  { return "users" }
func (v1Pool) TableName() string                  { return "pools" }
func (v1PoolNumber) TableName() string            { return "pool_numbers" }
func (v1PriceItem) TableName() string             { return "price_items" }
func (v1APIToken) TableName() string              { return "api_tokens" }
func (v1AuditEvent) TableName() string            { return "audit_events" }
func (v1File) TableName() string                  { return "files" }
func (v1Call) TableName() string                  { return "calls" }
func (v1CallEvent) TableName() string             { return "call_events" }
func (v1Recording) TableName() string             { return "recordings" }
func (v1Announcement) TableName() string          { return "announcements" }
func (v1ModuleBooking) TableName() string         { return "module_bookings" }
func (v1CallRecordingSettings) TableName() string { return "call_recording_settings" }
func (v1FTPCredential) TableName() string         { return "ftp_credentials" }

// v1Models are migration 1's tables in the order main created them.
func v1Models() []any {
	return []any{
		&v1Customer{}, &v1User{}, &v1Pool{}, &v1PoolNumber{}, &v1PriceItem{}, &v1APIToken{}, &v1AuditEvent{},
		&v1File{}, &v1Call{}, &v1CallEvent{}, &v1Recording{}, &v1Announcement{},
		&v1ModuleBooking{}, &v1CallRecordingSettings{}, &v1FTPCredential{},
	}
}

// v1FileIndexes are the File Browser's indexes of migration 1 (besides those of the tags).
func v1FileIndexes() []string {
	stmts := []string{
		"CREATE INDEX IF NOT EXISTS idx_files_customer_kind_at ON files(customer_id, kind, call_at)",
		"DROP INDEX IF EXISTS idx_files_customer_pool_at",
		"CREATE INDEX IF NOT EXISTS idx_files_customer_pool_kind_at ON files(customer_id, pool_id, kind, call_at)",
		"CREATE INDEX IF NOT EXISTS idx_files_customer_a ON files(customer_id, a)",
		"CREATE INDEX IF NOT EXISTS idx_files_customer_b ON files(customer_id, b)",
		"CREATE INDEX IF NOT EXISTS idx_files_customer_c ON files(customer_id, c)",
	}
	for _, kc := range [][2]string{{"date", "call_at"}, {"caller", "a"}, {"dialed", "b"}, {"destination", "c"},
		{"duration", "duration_ms"}, {"size", "size"}} {
		stmts = append(stmts, "CREATE INDEX IF NOT EXISTS idx_files_browse_"+kc[0]+" ON files(customer_id, folder, "+kc[1]+")")
	}
	return stmts
}
