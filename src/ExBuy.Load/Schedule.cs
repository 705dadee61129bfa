namespace ExBuy.Load;

/// <summary>
/// Open model: the intended start of arrival i (0-based) for a rate that ramps 0 → rate over rampUp, holds for hold,
/// and ramps back to 0 over rampDown (cumulative arrivals A(t) = ∫ rate, inverted).
/// </summary>
public sealed class ArrivalSchedule(double rate, TimeSpan rampUp, TimeSpan hold, TimeSpan rampDown)
{
    private readonly double _n = rate, _r = rampUp.TotalSeconds, _h = hold.TotalSeconds, _d = rampDown.TotalSeconds;

    public double TotalSeconds => _r + _h + _d;
    public double TotalArrivals => _n * (_r / 2 + _h + _d / 2);

    /// <summary>Seconds from the start, or null when the schedule has no arrival i.</summary>
    public double? TimeOf(long i)
    {
        double a = i;
        var a1 = _n * _r / 2;
        if (a < a1) return Math.Sqrt(2 * _r * a / _n);
        var a2 = a1 + _n * _h;
        if (a < a2) return _r + (a - a1) / _n;
        var a3 = a2 + _n * _d / 2;
        if (a < a3)
        {
            var x = 1 - 2 * (a - a2) / (_n * _d);
            return _r + _h + _d * (1 - Math.Sqrt(Math.Max(0, x)));
        }
        return null;
    }
}
