"""Local stand-ins for Google Cloud: Google's emulators, a scheduler loop, and the stack runner."""
