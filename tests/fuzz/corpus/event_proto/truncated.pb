
	u