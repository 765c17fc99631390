package install

import "errors"

// Finish ends the transaction Commit began: it completes r with what the commit recorded
// (the payload, its files, links, configs, /etc/slurm files, backups and created directories)
// and writes it as the receipt, then finalizes the commit. The receipt is written exactly when
// the commit is finalized: when it cannot be written, the commit is rolled back and the root
// is as it was before the commit.
func (c *Commit) Finish(r *Receipt) error {
	r.PayloadDir, r.Files, r.SelfContained = c.PayloadRel, c.staged.Files, c.staged.SelfContained
	r.Links, r.Configs, r.EtcFiles = c.Links, c.Configs, c.EtcFiles
	r.Backups, r.CreatedDirs = c.Backups, c.CreatedDirs
	if err := c.in.WriteReceipt(r); err != nil {
		if rerr := c.Rollback(); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	c.Finalize()
	return nil
}
