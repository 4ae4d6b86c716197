"""The only importer of imapclient: a small mailbox API and the mapping of every foreign error."""
