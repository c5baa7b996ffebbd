// end-to-end suite: written next
