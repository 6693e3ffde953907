"""Date and number formats per language where Django's own do not suit a Swedish product (FORMAT_MODULE_PATH)."""
