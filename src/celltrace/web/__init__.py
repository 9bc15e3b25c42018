"""Server-rendered pages: base layout, login, dashboard, and the core and audit pages."""
