"""Fine-tuning the bundled reader on a user's own labelled pictures (`digits finetune`)."""
