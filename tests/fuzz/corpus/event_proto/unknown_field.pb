
uiJxyzP