"""fixest's conventions through pyfixest (tested against fixest), as a second reference.

fixest itself is not in Debian's archive. Run in an environment with pyfixest installed:
    python make_fe_pyfixest.py > make_fe_pyfixest.out     (writes fe_pyfixest.json)
"""
import json
import sys

import numpy as np
import pandas as pd
import pyfixest as pf

produc = pd.read_csv("produc.csv")
cigar = pd.read_csv("cigar.csv")
for d, cols in ((produc, ["gsp", "pcap", "pc", "emp"]), (cigar, ["sales", "price", "ndi"])):
    for c in cols:
        d["l_" + c] = np.log(d[c])

specs = {
    "produc_twoway": (produc, "l_gsp ~ l_pcap + l_pc + l_emp + unemp | state + year", "region"),
    "produc_state": (produc, "l_gsp ~ l_pcap + l_pc + l_emp + unemp | state", "state"),
    "cigar_twoway": (cigar, "l_sales ~ l_price + l_ndi + pop16 | state + year", "state"),
    "produc_twoway_2cl": (produc, "l_gsp ~ l_pcap + l_pc + l_emp + unemp | state + year", "region+year"),
}
out = {"meta": {"pyfixest": pf.__version__, "python": sys.version.split()[0]}}
for key, (data, fml, cl) in specs.items():
    fit = pf.feols(fml, data=data, vcov={"CRV1": cl})
    tidy = fit.tidy()
    iid = pf.feols(fml, data=data, vcov="iid").tidy()
    out[key] = {
        "terms": list(tidy.index),
        "coef": tidy["Estimate"].tolist(),
        "se_cluster": tidy["Std. Error"].tolist(),
        "p_cluster": tidy["Pr(>|t|)"].tolist(),
        "se_iid": iid["Std. Error"].tolist(),
        "r2": float(fit._r2), "adj_r2": float(fit._adj_r2), "r2_within": float(fit._r2_within),
        "rmse": float(np.sqrt(np.mean(fit.resid() ** 2))),
    }
    print(key, out[key])
with open("fe_pyfixest.json", "w") as fh:
    json.dump(out, fh, indent=1)
