CREATE TABLE "signing_keys" (
	"id" uuid PRIMARY KEY NOT NULL,
	"algorithm" text DEFAULT 'EdDSA' NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"private_key_encrypted" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone,
	CONSTRAINT "signing_keys_algorithm_check" CHECK ("signing_keys"."algorithm" = 'EdDSA'),
	CONSTRAINT "signing_keys_status_check" CHECK ("signing_keys"."status" in ('active', 'retired')),
	CONSTRAINT "signing_keys_retired_at_check" CHECK (("signing_keys"."status" = 'retired') = ("signing_keys"."retired_at" is not null))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_active_key" ON "signing_keys" USING btree ("status") WHERE "signing_keys"."status" = 'active';