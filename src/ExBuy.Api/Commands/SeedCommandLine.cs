using System.Globalization;
using ExBuy.Api.Data.Seeding;

namespace ExBuy.Api.Commands;

public sealed record WarmupOptions(Uri Url, int Requests)
{
    public const int DefaultRequests = 200;
    public const int MaxRequests = 100_000;
}

/// <summary>Options of <c>seed</c>, <c>reset</c> and <c>warmup</c>. Every mistake is one <see cref="CommandException"/> line.</summary>
public static class SeedCommandLine
{
    /// <summary>The seeder's own checks (counts, presets: <see cref="SeedException"/>) come back as the same one line.</summary>
    public static SeedOptions ParseSeed(IReadOnlyList<string> args)
    {
        try
        {
            return ReadSeed(args);
        }
        catch (SeedException ex)
        {
            throw new CommandException(ex.Message);
        }
    }

    private static SeedOptions ReadSeed(IReadOnlyList<string> args)
    {
        var options = SeedPresets.Resolve(SeedPresets.Default);
        long? products = null, orders = null, reviews = null;
        foreach (var (flag, value) in Tokens(args, "seed", ["--reset", "--if-empty"]))
        {
            switch (flag)
            {
                case "--preset":
                    options = SeedPresets.Resolve(value!) with
                    {
                        BatchSize = options.BatchSize,
                        RandomSeed = options.RandomSeed,
                        Reset = options.Reset,
                        Method = options.Method,
                        IfEmpty = options.IfEmpty,
                    };
                    break;
                case "--products":
                    products = Number(flag, value!);
                    break;
                case "--orders":
                    orders = Number(flag, value!);
                    break;
                case "--reviews":
                    reviews = Number(flag, value!);
                    break;
                case "--batch-size":
                    options = options with { BatchSize = ToInt(flag, Number(flag, value!), 1, SeedOptions.MaxBatchSize) };
                    break;
                case "--random-seed":
                    options = options with { RandomSeed = ToInt(flag, Number(flag, value!), 0, int.MaxValue) };
                    break;
                case "--method":
                    options = options with
                    {
                        Method = value!.ToLowerInvariant() switch
                        {
                            "copy" => SeedMethod.Copy,
                            "insert" => SeedMethod.Insert,
                            _ => throw new CommandException($"--method '{value}' is not known: use copy or insert."),
                        },
                    };
                    break;
                case "--reset":
                    options = options with { Reset = true };
                    break;
                case "--if-empty":
                    options = options with { IfEmpty = true };
                    break;
                default:
                    throw Unknown("seed", flag);
            }
        }
        // Explicit counts override the preset's, whatever their order on the command line.
        options = options with
        {
            Products = products is { } p ? ToInt("--products", p, 0, SeedOptions.MaxCount) : options.Products,
            Orders = orders is { } o ? ToInt("--orders", o, 0, SeedOptions.MaxCount) : options.Orders,
            Reviews = reviews is { } r ? ToInt("--reviews", r, 0, SeedOptions.MaxCount) : options.Reviews,
        };
        options.Validate();
        return options;
    }

    public static void ParseReset(IReadOnlyList<string> args)
    {
        foreach (var (flag, _) in Tokens(args, "reset", []))
        {
            throw Unknown("reset", flag);
        }
    }

    public static WarmupOptions ParseWarmup(IReadOnlyList<string> args)
    {
        var url = new Uri(Hosting.DefaultUrl);
        var requests = WarmupOptions.DefaultRequests;
        foreach (var (flag, value) in Tokens(args, "warmup", []))
        {
            switch (flag)
            {
                case "--url":
                    if (!Uri.TryCreate(value, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
                    {
                        throw new CommandException($"--url '{value}' is not an absolute http:// or https:// URL (e.g. {Hosting.DefaultUrl}).");
                    }
                    url = parsed;
                    break;
                case "--requests":
                    requests = ToInt(flag, Number(flag, value!), 1, WarmupOptions.MaxRequests);
                    break;
                default:
                    throw Unknown("warmup", flag);
            }
        }
        return new WarmupOptions(url, requests);
    }

    public static bool WantsHelp(IReadOnlyList<string> args) => args.Skip(1).Any(a => a is "--help" or "-h");

    /// <summary>"--flag value" and "--flag=value"; <paramref name="switches"/> take no value.</summary>
    private static IEnumerable<(string Flag, string? Value)> Tokens(IReadOnlyList<string> args, string command, string[] switches)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var token = args[i];
            if (!token.StartsWith("--", StringComparison.Ordinal) || token.Length == 2)
            {
                throw new CommandException($"unexpected argument '{token}' for {command}: options look like --name value (see `help`).");
            }
            var eq = token.IndexOf('=', StringComparison.Ordinal);
            var flag = (eq < 0 ? token : token[..eq]).ToLowerInvariant();
            if (switches.Contains(flag))
            {
                if (eq >= 0)
                {
                    throw new CommandException($"{flag} takes no value.");
                }
                yield return (flag, null);
                continue;
            }
            string value;
            if (eq >= 0)
            {
                value = token[(eq + 1)..];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }
            else
            {
                throw new CommandException($"{flag} needs a value.");
            }
            if (value.Trim().Length == 0)
            {
                throw new CommandException($"{flag} needs a value.");
            }
            yield return (flag, value.Trim());
        }
    }

    private static long Number(string flag, string value) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new CommandException($"{flag} '{value}' is not a whole number.");

    private static int ToInt(string flag, long value, int min, int max) => value >= min && value <= max
        ? (int)value
        : throw new CommandException($"{flag} {value} is out of range: use {min}..{max}.");

    private static CommandException Unknown(string command, string flag) => new(command switch
    {
        "seed" => $"unknown option '{flag}' for seed: use --preset small|medium|large, --products N, --orders N, --reviews N, "
            + "--batch-size N, --random-seed N, --method copy|insert, --reset, --if-empty.",
        "warmup" => $"unknown option '{flag}' for warmup: use --url URL, --requests N.",
        _ => $"unknown option '{flag}' for {command}: it takes no options.",
    });

    /// <summary>Usage of the data commands (also part of <c>help</c>).</summary>
    public static string Usage => $"""
          seed           load generated data into the configured database (migrating it first), in one transaction
                           --preset small|medium|large   1K/5K/10K, 10K/50K/100K (default), 100K/500K/1M products/orders/reviews
                           --products N --orders N --reviews N   override the preset's counts
                           --batch-size N     rows per INSERT / per progress step (default {SeedOptions.DefaultBatchSize})
                           --random-seed N    same seed, same rows on either engine (default {SeedOptions.DefaultRandomSeed})
                           --method copy|insert   binary COPY (PostgreSQL default) or multi-row INSERTs (SQLite)
                           --reset            replace existing rows (otherwise a non-empty database is refused)
                           --if-empty         seed only an empty database; a non-empty one is left as it is (exit 0)
          reset          empty every table and restart the id sequences
          warmup         a bounded pass over every read endpoint, optimize=false and true, then a summary
                           --url URL          default {Hosting.DefaultUrl}
                           --requests N       default {WarmupOptions.DefaultRequests}
          healthcheck    GET the readiness endpoint once: exit 0 on 200, else 1 with one line (a container's HEALTHCHECK)
                           --url URL          default: the first listen URL (--urls, ASPNETCORE_URLS) + {HealthCheckCommand.ReadyPath}
        """;
}
