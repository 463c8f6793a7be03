ALTER TABLE "signing_keys" DROP CONSTRAINT "signing_keys_status_check";--> statement-breakpoint
ALTER TABLE "signing_keys" ADD COLUMN "rotated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "signing_keys" ADD CONSTRAINT "signing_keys_rotated_at_check" CHECK ("signing_keys"."status" = 'retired' or ("signing_keys"."status" = 'previous') = ("signing_keys"."rotated_at" is not null));--> statement-breakpoint
ALTER TABLE "signing_keys" ADD CONSTRAINT "signing_keys_status_check" CHECK ("signing_keys"."status" in ('active', 'previous', 'retired'));