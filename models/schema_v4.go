package models

import "time"

// The webhook tables as builds of main created them with AutoMigrate before versioned
// migrations, frozen for migration 4 (which creates what a database lacks of them). Never
// edit: later changes are later migrations.

type v4WebhookEndpoint struct {
	ID           uint   `gorm:"primaryKey"`
	CustomerID   uint   `gorm:"index;not null"`
	URL          string `gorm:"not null"`
	Description  string
	Events       string `gorm:"not null"`
	Enabled      bool   `gorm:"not null"`
	Secret       string `gorm:"not null"`
	PrevSecret   string
	PrevUntil    *time.Time
	FailingSince *time.Time
	DisabledAt   *time.Time
	Disabled     string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

type v4WebhookDelivery struct {
	ID          uint      `gorm:"primaryKey"`
	EndpointID  uint      `gorm:"not null;index:idx_webhook_deliveries_endpoint,priority:1"`
	CustomerID  uint      `gorm:"not null"`
	MsgID       string    `gorm:"uniqueIndex;not null"`
	Event       string    `gorm:"not null"`
	Payload     string    `gorm:"not null"`
	Status      string    `gorm:"not null;index:idx_webhook_deliveries_due,priority:1"`
	NextAttempt time.Time `gorm:"not null;index:idx_webhook_deliveries_due,priority:2"`
	GiveUpAt    time.Time `gorm:"not null"`
	Attempts    int
	LastCode    int
	LastError   string
	LatencyMS   int64
	LastAttempt *time.Time
	DeliveredAt *time.Time
	CreatedAt   time.Time `gorm:"index:idx_webhook_deliveries_endpoint,priority:2"`
}

type v4Lease struct {
	Name      string `gorm:"primaryKey"`
	Holder    string `gorm:"not null"`
	ExpiresAt time.Time
}

type v4ServerSecret struct {
	Name  string `gorm:"primaryKey"`
	Value []byte `gorm:"not null"`
}

func (v4WebhookEndpoint) TableName() string { return "webhook_endpoints" }
func (v4WebhookDelivery) TableName() string { return "webhook_deliveries" }
func (v4Lease) TableName() string           { return "leases" }
func (v4ServerSecret) TableName() string    { return "server_secrets" }

func v4Models() []any {
	return []any{&v4WebhookEndpoint{}, &v4WebhookDelivery{}, &v4Lease{}, &v4ServerSecret{}}
}
