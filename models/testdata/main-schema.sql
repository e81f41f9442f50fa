PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE `customers` (`id` integer PRIMARY KEY AUTOINCREMENT,`name` text NOT NULL,`subscriber_id` text NOT NULL,`language` text NOT NULL DEFAULT "de",`time_zone` text NOT NULL DEFAULT "Europe/Berlin",`created_at` datetime,`updated_at` datetime);
INSERT INTO customers VALUES(1,'Demo GmbH','337826','de','Europe/Berlin','2026-12-01 21:48:29.173678675+00:00','2026-12-01 21:48:29.173678675+00:00');
CREATE TABLE `users` (`id` integer PRIMARY KEY AUTOINCREMENT,`customer_id` integer,`username` text NOT NULL,`password_hash` text NOT NULL,`role` text NOT NULL,`can_open_recordings` numeric,`language` text,`disabled` numeric,`created_at` datetime,`updated_at` datetime,CONSTRAINT `fk_users_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers`(`id`));
INSERT INTO users VALUES(1,NULL,'admin','$2a$10$Evf0XI9DANV5NUo.VZXvQOBCPg11NtUnLL/4EvkXBdAsxnPx1PGNC','platform_admin',0,'',0,'2026-12-01 21:48:29.171684274+00:00','2026-12-01 21:48:29.171684274+00:00');
INSERT INTO users VALUES(2,1,'demo-admin','$2a$10$zSPk0rpqQ04k53XMof/8W.8kc3Bd3ADaoxGEYopNqeB/ZAsxPdZt2','customer_admin',1,'',0,'2026-12-01 21:48:29.982785916+00:00','2026-12-01 21:48:29.982785916+00:00');
INSERT INTO users VALUES(3,1,'demo-agent','$2a$10$6Gq1wrZZEepbphJTk8zlC.JLnrIS/P6G9LdA4rqqsf2DtNKignEOO','agent',0,'',0,'2026-12-01 21:48:30.210563986+00:00','2026-12-01 21:48:30.210563986+00:00');
CREATE TABLE `pools` (`id` integer PRIMARY KEY AUTOINCREMENT,`customer_id` integer NOT NULL,`name` text NOT NULL,`start_number` text NOT NULL,`destination` text NOT NULL,`created_at` datetime,`updated_at` datetime,CONSTRAINT `fk_pools_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers`(`id`));
INSERT INTO pools VALUES(1,1,'Demo-Pool Stuttgart','4971121843140','4915258878874','2026-12-01 21:48:29.175393441+00:00','2026-12-01 21:48:29.175393441+00:00');
CREATE TABLE `pool_numbers` (`id` integer PRIMARY KEY AUTOINCREMENT,`pool_id` integer NOT NULL,`number` text NOT NULL,CONSTRAINT `fk_pools_numbers` FOREIGN KEY (`pool_id`) REFERENCES `pools`(`id`));
INSERT INTO pool_numbers VALUES(1,1,'4971121843140');
INSERT INTO pool_numbers VALUES(2,1,'49711218431431');
INSERT INTO pool_numbers VALUES(3,1,'49711218431432');
CREATE TABLE `price_items` (`id` integer PRIMARY KEY AUTOINCREMENT,`module` text NOT NULL,`monthly_cents` integer NOT NULL,`currency` text NOT NULL DEFAULT "EUR");
INSERT INTO price_items VALUES(1,'call_recording',1990,'EUR');
INSERT INTO price_items VALUES(2,'ftp_access',990,'EUR');
CREATE TABLE `api_tokens` (`id` integer PRIMARY KEY AUTOINCREMENT,`user_id` integer NOT NULL,`name` text NOT NULL,`hash` text NOT NULL,`created_at` datetime,`last_used_at` datetime);
INSERT INTO api_tokens VALUES(1,2,'fixture','53278424049a759ddada789d6fd35cb05286b5cea9f7d1db52e896ea9c6c0d56','2026-12-01 21:48:30.600788182+00:00',NULL);
CREATE TABLE `audit_events` (`id` integer PRIMARY KEY AUTOINCREMENT,`customer_id` integer,`at` datetime NOT NULL,`user_id` integer,`username` text,`ip` text,`kind` text NOT NULL,`object` text,`old_value` text,`new_value` text);
INSERT INTO audit_events VALUES(1,1,'2026-03-14 09:26:55+00:00',2,'demo-admin','192.0.2.1','booking.created','call_recording pool 1','','{"booked_at":"2026-03-14T09:26:54Z","booked_by":"demo-admin","currency":"EUR","module":"call_recording","notice_language":"de","notice_version":"2e2011d96a4116985c5cfb35df7d4f59083c21b70c8a5ac927e41a1f92f89329","pool_id":1,"price_cents":1990}');
INSERT INTO audit_events VALUES(2,1,'2026-03-14 09:26:57+00:00',2,'demo-admin','192.0.2.1','booking.created','ftp_access customer 1','','{"booked_at":"2026-03-14T09:26:56Z","booked_by":"demo-admin","currency":"EUR","module":"ftp_access","price_cents":990}');
INSERT INTO audit_events VALUES(3,1,'2026-03-14 09:26:58+00:00',2,'demo-admin','192.0.2.1','ftp.credentials_set','ftp_access','','ftp-337826');
INSERT INTO audit_events VALUES(4,1,'2026-03-14 09:26:59+00:00',2,'demo-admin','192.0.2.1','announcement.uploaded','announcements/337826/hello.wav','','{"bits":8,"channels":1,"codec":"pcm_u8","duration_ms":500,"id":1,"path":"announcements/337826/hello.wav","rate":16000,"ready":true,"size":1234}');
CREATE TABLE `files` (`id` integer PRIMARY KEY AUTOINCREMENT,`customer_id` integer NOT NULL,`folder` text NOT NULL,`name` text NOT NULL,`path` text NOT NULL,`kind` text NOT NULL,`size` integer,`codec` text,`bits` integer,`rate` integer,`channels` integer,`duration_ms` integer,`ready` numeric,`call_at` datetime,`a` text,`b` text,`c` text,`pool_id` integer,`created_at` datetime,`updated_at` datetime);
INSERT INTO files VALUES(1,1,'announcements/337826','hello.wav','announcements/337826/hello.wav','announcement',1234,'pcm_u8',8,16000,1,500,1,NULL,'','','',0,'2026-12-01 21:48:30.60097907+00:00','2026-12-01 21:48:30.60097907+00:00');
INSERT INTO files VALUES(2,1,'call_recording/337826/4971121843140','rec_20260314_110000_337826_4971121843140_49711218431440_49711218431431_4915258878874.wav','call_recording/337826/4971121843140/rec_20260314_110000_337826_4971121843140_49711218431440_49711218431431_4915258878874.wav','recording',960044,'pcm_s16le',16,8000,1,60000,0,'2026-03-14 10:00:00+00:00','49711218431440','49711218431431','4915258878874',1,'2026-12-01 21:48:30.602278748+00:00','2026-12-01 21:48:30.602278748+00:00');
INSERT INTO files VALUES(3,1,'call_recording/337826/4971121843140','rec_20260314_110001_337826_4971121843140_49711218431440_49711218431431_4915258878874.wav','call_recording/337826/4971121843140/rec_20260314_110001_337826_4971121843140_49711218431440_49711218431431_4915258878874.wav','recording',960044,'pcm_s16le',16,8000,1,60000,0,'2026-03-14 10:00:01+00:00','49711218431440','49711218431431','4915258878874',1,'2026-12-01 21:48:30.603434286+00:00','2026-12-01 21:48:30.603434286+00:00');
INSERT INTO files VALUES(4,1,'call_recording/337826/4971121843140','rec_20260314_110002_337826_4971121843140_49711218431440_49711218431431_4915258878874.wav','call_recording/337826/4971121843140/rec_20260314_110002_337826_4971121843140_49711218431440_49711218431431_4915258878874.wav','recording',960044,'pcm_s16le',16,8000,1,60000,0,'2026-03-14 10:00:02+00:00','49711218431440','49711218431431','4915258878874',1,'2026-12-01 21:48:30.613169487+00:00','2026-12-01 21:48:30.613169487+00:00');
CREATE TABLE `calls` (`id` integer PRIMARY KEY AUTOINCREMENT,`engine_id` text NOT NULL,`customer_id` integer NOT NULL,`pool_id` integer,`a` text,`b` text,`c` text,`arrival` datetime NOT NULL,`answered` datetime,`bridged` datetime,`ended` datetime,`state` text,`rec_state` text,`mode` text,`outcome` text,`duration_ms` integer,`recorded_ms` integer,`updated_at` datetime);
INSERT INTO calls VALUES(1,'call-0',1,1,'49711218431440','49711218431431','4915258878874','2026-03-14 10:00:00+00:00','2026-03-14 10:00:01+00:00','2026-03-14 10:00:05+00:00','2026-03-14 10:01:05+00:00','ended','stopped','automatic','completed',60000,60000,'2026-12-01 21:48:30.60181075+00:00');
INSERT INTO calls VALUES(2,'call-1',1,1,'49711218431440','49711218431431','4915258878874','2026-03-14 10:00:01+00:00','2026-03-14 10:00:02+00:00','2026-03-14 10:00:06+00:00','2026-03-14 10:01:06+00:00','ended','stopped','automatic','completed',60000,60000,'2026-12-01 21:48:30.602974343+00:00');
INSERT INTO calls VALUES(3,'call-2',1,1,'49711218431440','49711218431431','4915258878874','2026-03-14 10:00:02+00:00','2026-03-14 10:00:03+00:00','2026-03-14 10:00:07+00:00','2026-03-14 10:01:07+00:00','ended','stopped','automatic','completed',60000,60000,'2026-12-01 21:48:30.612555816+00:00');
CREATE TABLE `call_events` (`id` integer PRIMARY KEY AUTOINCREMENT,`call_id` integer NOT NULL,`seq` integer,`at` datetime,`offset_ms` integer,`kind` text,`by` text,`detail` text,CONSTRAINT `fk_calls_events` FOREIGN KEY (`call_id`) REFERENCES `calls`(`id`) ON DELETE CASCADE);
INSERT INTO call_events VALUES(1,1,0,'2026-03-14 10:00:01+00:00',1000,'notice_played','system','');
INSERT INTO call_events VALUES(2,1,1,'2026-03-14 10:00:05+00:00',5000,'recording_started','system','');
INSERT INTO call_events VALUES(3,2,0,'2026-03-14 10:00:02+00:00',1000,'notice_played','system','');
INSERT INTO call_events VALUES(4,2,1,'2026-03-14 10:00:06+00:00',5000,'recording_started','system','');
INSERT INTO call_events VALUES(5,3,0,'2026-03-14 10:00:03+00:00',1000,'notice_played','system','');
INSERT INTO call_events VALUES(6,3,1,'2026-03-14 10:00:07+00:00',5000,'recording_started','system','');
CREATE TABLE `recordings` (`id` integer PRIMARY KEY AUTOINCREMENT,`customer_id` integer NOT NULL,`pool_id` integer,`call_id` integer NOT NULL,`file_id` integer,`path` text NOT NULL,`channels` integer,`size` integer,`duration_ms` integer,`recorded_ms` integer,`segments` text,`status` text,`failure` text,`peaks` blob,`created_at` datetime,`updated_at` datetime,CONSTRAINT `fk_calls_recording` FOREIGN KEY (`call_id`) REFERENCES `calls`(`id`));
INSERT INTO recordings VALUES(1,1,1,1,2,'call_recording/337826/4971121843140/rec_20260314_110000_337826_4971121843140_49711218431440_49711218431431_4915258878874.wav',1,960044,60000,60000,'[[0,60000]]','complete','',NULL,'2026-12-01 21:48:30.602537774+00:00','2026-12-01 21:48:30.602537774+00:00');
INSERT INTO recordings VALUES(2,1,1,2,3,'call_recording/337826/4971121843140/rec_20260314_110001_337826_4971121843140_49711218431440_49711218431431_4915258878874.wav',1,960044,60000,60000,'[[0,60000]]','complete','',NULL,'2026-12-01 21:48:30.60368211+00:00','2026-12-01 21:48:30.60368211+00:00');
INSERT INTO recordings VALUES(3,1,1,3,4,'call_recording/337826/4971121843140/rec_20260314_110002_337826_4971121843140_49711218431440_49711218431431_4915258878874.wav',1,960044,60000,60000,'[[0,60000]]','complete','',NULL,'2026-12-01 21:48:30.613674044+00:00','2026-12-01 21:48:30.613674044+00:00');
CREATE TABLE `announcements` (`id` integer PRIMARY KEY AUTOINCREMENT,`pool_id` integer NOT NULL,`slot` text NOT NULL,`source` text NOT NULL DEFAULT "default",`text_de` text,`text_en` text,`audio_de` text,`audio_en` text,`file_id` integer,`updated_at` datetime);
INSERT INTO announcements VALUES(1,1,'caller_notice','default','Standard caller_notice de','Standard caller_notice en','','',NULL,'2026-12-01 21:48:30.233121721+00:00');
INSERT INTO announcements VALUES(2,1,'objection_confirmation','default','Standard objection_confirmation de','Standard objection_confirmation en','','',NULL,'2026-12-01 21:48:30.233362383+00:00');
INSERT INTO announcements VALUES(3,1,'callee_whisper','default','Standard callee_whisper de','Standard callee_whisper en','','',NULL,'2026-12-01 21:48:30.233574711+00:00');
CREATE TABLE `module_bookings` (`id` integer PRIMARY KEY AUTOINCREMENT,`customer_id` integer NOT NULL,`pool_id` integer NOT NULL,`module` text NOT NULL,`booked_at` datetime,`booked_by_id` integer,`booked_by_name` text,`ip` text,`notice_version` text,`notice_lang` text,`price_cents` integer,`currency` text,`cancelled_at` datetime,`cancelled_by_id` integer,`cancelled_by` text);
INSERT INTO module_bookings VALUES(1,1,1,'call_recording','2026-03-14 09:26:54+00:00',2,'demo-admin','192.0.2.1','2e2011d96a4116985c5cfb35df7d4f59083c21b70c8a5ac927e41a1f92f89329','de',1990,'EUR',NULL,0,'');
INSERT INTO module_bookings VALUES(2,1,0,'ftp_access','2026-03-14 09:26:56+00:00',2,'demo-admin','192.0.2.1','','',990,'EUR',NULL,0,'');
CREATE TABLE `call_recording_settings` (`pool_id` integer,`enabled` numeric,`mode` text NOT NULL,`caller_announcement` numeric,`channels` text NOT NULL,`retention_days` integer,`updated_at` datetime,PRIMARY KEY (`pool_id`));
INSERT INTO call_recording_settings VALUES(1,1,'automatic',1,'stereo',0,'2026-12-01 21:48:30.232957233+00:00');
CREATE TABLE `ftp_credentials` (`id` integer PRIMARY KEY AUTOINCREMENT,`customer_id` integer NOT NULL,`username` text NOT NULL,`password_hash` text NOT NULL,`set_by` text,`created_at` datetime,`updated_at` datetime);
INSERT INTO ftp_credentials VALUES(1,1,'ftp-337826','$2a$10$luwU5/s9LyivHoc/.iHL2ucAjZqeKMaWjL4A00Nsf9.tvaMkwJCxu','demo-admin','2026-12-01 21:48:30.600285038+00:00','2026-12-01 21:48:30.600285038+00:00');
CREATE TABLE folder_stats (customer_id INTEGER NOT NULL, folder TEXT NOT NULL, kind TEXT NOT NULL,
				files INTEGER NOT NULL, bytes INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 0,
				PRIMARY KEY (customer_id, folder, kind)) WITHOUT ROWID;
INSERT INTO folder_stats VALUES(1,'announcements/337826','announcement',1,1234,1);
INSERT INTO folder_stats VALUES(1,'call_recording/337826/4971121843140','recording',3,2880132,3);
CREATE TABLE sessions (
		token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL);
INSERT INTO sessions VALUES('fixturetoken',X'00',2500000.5);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('users',3);
INSERT INTO sqlite_sequence VALUES('customers',1);
INSERT INTO sqlite_sequence VALUES('pools',1);
INSERT INTO sqlite_sequence VALUES('pool_numbers',3);
INSERT INTO sqlite_sequence VALUES('price_items',2);
INSERT INTO sqlite_sequence VALUES('module_bookings',2);
INSERT INTO sqlite_sequence VALUES('announcements',3);
INSERT INTO sqlite_sequence VALUES('audit_events',4);
INSERT INTO sqlite_sequence VALUES('ftp_credentials',1);
INSERT INTO sqlite_sequence VALUES('api_tokens',1);
INSERT INTO sqlite_sequence VALUES('files',4);
INSERT INTO sqlite_sequence VALUES('calls',3);
INSERT INTO sqlite_sequence VALUES('call_events',6);
INSERT INTO sqlite_sequence VALUES('recordings',3);
CREATE UNIQUE INDEX `idx_customers_subscriber_id` ON `customers`(`subscriber_id`);
CREATE UNIQUE INDEX `idx_users_username` ON `users`(`username`);
CREATE INDEX `idx_users_customer_id` ON `users`(`customer_id`);
CREATE INDEX `idx_pools_customer_id` ON `pools`(`customer_id`);
CREATE UNIQUE INDEX `idx_pool_numbers_number` ON `pool_numbers`(`number`);
CREATE INDEX `idx_pool_numbers_pool_id` ON `pool_numbers`(`pool_id`);
CREATE UNIQUE INDEX `idx_price_items_module` ON `price_items`(`module`);
CREATE UNIQUE INDEX `idx_api_tokens_hash` ON `api_tokens`(`hash`);
CREATE INDEX `idx_api_tokens_user_id` ON `api_tokens`(`user_id`);
CREATE INDEX `idx_audit_customer_kind` ON `audit_events`(`customer_id`,`kind`,`at`);
CREATE INDEX `idx_audit_customer_time` ON `audit_events`(`customer_id`,`at`);
CREATE INDEX `idx_files_pool_id` ON `files`(`pool_id`);
CREATE INDEX `idx_files_call_at` ON `files`(`call_at`);
CREATE UNIQUE INDEX `idx_files_path` ON `files`(`path`);
CREATE INDEX `idx_files_folder` ON `files`(`customer_id`,`folder`,`name`);
CREATE INDEX `idx_calls_outcome` ON `calls`(`outcome`);
CREATE INDEX `idx_calls_pool_id` ON `calls`(`pool_id`);
CREATE INDEX `idx_calls_customer_pool_arrival` ON `calls`(`customer_id`,`pool_id`,`arrival`);
CREATE INDEX `idx_calls_customer_arrival` ON `calls`(`customer_id`,`arrival`);
CREATE UNIQUE INDEX `idx_calls_engine_id` ON `calls`(`engine_id`);
CREATE INDEX `idx_call_events_call_id` ON `call_events`(`call_id`);
CREATE INDEX `idx_recordings_status` ON `recordings`(`status`);
CREATE UNIQUE INDEX `idx_recordings_path` ON `recordings`(`path`);
CREATE INDEX `idx_recordings_file_id` ON `recordings`(`file_id`);
CREATE UNIQUE INDEX `idx_recordings_call_id` ON `recordings`(`call_id`);
CREATE INDEX `idx_recordings_pool_id` ON `recordings`(`pool_id`);
CREATE INDEX `idx_recordings_customer_id` ON `recordings`(`customer_id`);
CREATE UNIQUE INDEX `idx_announcement_slot` ON `announcements`(`pool_id`,`slot`);
CREATE INDEX `idx_booking_module` ON `module_bookings`(`customer_id`,`pool_id`,`module`);
CREATE UNIQUE INDEX `idx_ftp_credentials_username` ON `ftp_credentials`(`username`);
CREATE UNIQUE INDEX `idx_ftp_credentials_customer_id` ON `ftp_credentials`(`customer_id`);
CREATE INDEX idx_files_customer_kind_at ON files(customer_id, kind, call_at);
CREATE INDEX idx_files_customer_pool_kind_at ON files(customer_id, pool_id, kind, call_at);
CREATE INDEX idx_files_customer_a ON files(customer_id, a);
CREATE INDEX idx_files_customer_b ON files(customer_id, b);
CREATE INDEX idx_files_customer_c ON files(customer_id, c);
CREATE INDEX idx_files_browse_date ON files(customer_id, folder, call_at);
CREATE INDEX idx_files_browse_caller ON files(customer_id, folder, a);
CREATE INDEX idx_files_browse_dialed ON files(customer_id, folder, b);
CREATE INDEX idx_files_browse_destination ON files(customer_id, folder, c);
CREATE INDEX idx_files_browse_duration ON files(customer_id, folder, duration_ms);
CREATE INDEX idx_files_browse_size ON files(customer_id, folder, size);
CREATE TRIGGER files_stats_insert AFTER INSERT ON files BEGIN
		INSERT INTO folder_stats (customer_id, folder, kind, files, bytes, version)
		VALUES (new.customer_id, new.folder, new.kind, 1, COALESCE(new.size, 0), 1)
		ON CONFLICT (customer_id, folder, kind) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes,
			version = version + 1;
	END;
CREATE TRIGGER files_stats_delete AFTER DELETE ON files BEGIN
		UPDATE folder_stats SET files = files - 1, bytes = bytes - COALESCE(old.size, 0), version = version + 1
		WHERE customer_id = old.customer_id AND folder = old.folder AND kind = old.kind;
	END;
CREATE TRIGGER files_stats_update AFTER UPDATE ON files BEGIN
		UPDATE folder_stats SET files = files - 1, bytes = bytes - COALESCE(old.size, 0), version = version + 1
		WHERE customer_id = old.customer_id AND folder = old.folder AND kind = old.kind;
		INSERT INTO folder_stats (customer_id, folder, kind, files, bytes, version)
		VALUES (new.customer_id, new.folder, new.kind, 1, COALESCE(new.size, 0), 1)
		ON CONFLICT (customer_id, folder, kind) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes,
			version = version + 1;
	END;
CREATE INDEX sessions_expiry_idx ON sessions(expiry);
COMMIT;
