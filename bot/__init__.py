"""conflictbot: conflict news merged into stories and pushed to Telegram chats."""
