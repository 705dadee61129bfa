namespace ExBuy.Load;

/// <summary>Draws an item with probability weight ÷ Σ weights (items of weight 0 are never drawn).</summary>
public sealed class WeightedPicker<T>
{
    private readonly T[] _items;
    private readonly double[] _cumulative;

    public WeightedPicker(IEnumerable<KeyValuePair<T, double>> weights)
    {
        var list = weights.Where(w => w.Value > 0).ToList();
        _items = list.Select(w => w.Key).ToArray();
        _cumulative = new double[list.Count];
        double sum = 0;
        for (var i = 0; i < list.Count; i++) { sum += list[i].Value; _cumulative[i] = sum; }
        Total = sum;
    }

    public double Total { get; }
    public bool IsEmpty => _items.Length == 0;
    public IReadOnlyList<T> Items => _items;

    public T Next(Random random)
    {
        if (_items.Length == 0) throw new InvalidOperationException("nothing to draw from");
        var x = random.NextDouble() * Total;
        var i = Array.BinarySearch(_cumulative, x);
        if (i < 0) i = ~i; else i++; // x equal to a boundary belongs to the next item
        return _items[Math.Min(i, _items.Length - 1)];
    }
}
