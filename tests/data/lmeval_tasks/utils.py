def process_results(doc, results):
    """results[0]: the filtered response (its last number); gold: the number after ####."""
    gold = doc["answer"].split("####")[-1].strip().replace(",", "")
    pred = str(results[0]).strip().replace(",", "").rstrip(".")
    return {"acc": float(pred == gold)}
