
ui