"""Differences in points between eval reports (figures and the handoff simulation).

Usage: python3 benches/compare_eval.py REF/report.json A/report.json [B/report.json ...]
(benches/README.md, "Accuracy per tier against candle f32"). Prints a markdown table.
"""
import json, sys
KEYS = ['accuracy', 'in_scope_accuracy', 'oos_recall', 'oos_auroc', 'macro_f1', 'ekman.macro_f1',
        'ekman.gold_macro_f1', 'sentiment.polar_accuracy', 'sentiment.accuracy', 'frustration_auroc',
        'recall_at_1', 'mrr', 'voice.accuracy', 'social.accuracy']
HKEYS = ['containment', 'wrong_answer_rate', 'handoff_precision', 'handoff_recall', 'not_kept_recall', 'human_request_recall']
def load(p):
    r = json.load(open(p))
    d = {}
    for t in r['tasks']:
        for k in KEYS:
            if k in t['figures']:
                d[(t['name'], k)] = t['figures'][k]
    for k in HKEYS:
        d[('handoff', k)] = r['handoff']['figures'][k]
    return d
ref = load(sys.argv[1]); others = [load(p) for p in sys.argv[2:]]
worst = [0.0] * len(others)
print('| task | figure | candle f32 | ' + ' | '.join(f'Δ {p}' for p in sys.argv[2:]) + ' |')
for key, v in ref.items():
    row = [key[0], key[1], f'{v:.4f}']
    for i, o in enumerate(others):
        d = (o.get(key, float('nan')) - v) * 100
        worst[i] = max(worst[i], abs(d))
        row.append(f'{d:+.2f}')
    print('| ' + ' | '.join(row) + ' |')
print('largest |Δ| in points:', ' '.join(f'{w:.2f}' for w in worst))
