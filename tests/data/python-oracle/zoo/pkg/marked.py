class Marked:  # saved with a byte order mark and Windows line ends
	def method(self): pass
