// Installer
