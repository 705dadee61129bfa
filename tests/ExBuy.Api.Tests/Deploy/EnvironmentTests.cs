using System.Text.RegularExpressions;

namespace ExBuy.Api.Tests.Deploy;

/// <summary>
/// The environment variables agree everywhere: what the app reads (a scan of its source), .env.example's app groups,
/// what docker-compose.yml passes to ExBuy containers, and the compose file's own variables.
/// </summary>
public sealed class EnvironmentTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string ComposeFixed = "compose: fixed";

    [Fact]
    public void TheScanFindsTheKnownKeys()
    {
        // Guards the scan itself: keys read through an indexer, a parse helper and GetEnvironmentVariable.
        Assert.Superset(new SortedSet<string> { "DB_ENGINE", "DB_POOL_MAX", "DEBUG", "FAULT_DELAY_PERCENT", "ASPNETCORE_URLS", "EXBUY_WORKER_INDEX" },
            new SortedSet<string>(AppVariables.All));
        Assert.DoesNotContain("ROLLBACK", AppVariables.All);
        Assert.DoesNotContain("INFO", AppVariables.All);
        Assert.DoesNotContain("D", AppVariables.All);
    }

    [Fact]
    public void EnvExampleAppGroupsListExactlyTheVariablesTheAppReads()
    {
        var example = EnvExample.Load();
        var listed = example.AppVariables.Select(v => v.Name).ToList();
        Assert.Equal(listed.Distinct().Count(), listed.Count);
        var missing = AppVariables.Settings.Except(listed).ToList();
        var extra = listed.Except(AppVariables.Settings).ToList();
        Assert.True(missing.Count == 0, $"the app reads {string.Join(", ", missing)}, which {EnvExample.Path} does not document in an app group");
        Assert.True(extra.Count == 0, $"{EnvExample.Path} lists {string.Join(", ", extra)} in an app group, which the app does not read");
        Assert.All(example.AppVariables, v =>
        {
            Assert.True(v.Commented, $"{v.Name}: app variables are commented out at their default");
            Assert.False(string.IsNullOrWhiteSpace(v.Description), $"{v.Name} has no comment line");
        });
        Assert.Equal(["App: database", "App: server", "App: observability", "App: faults", "App: uploads", "App: seeding", EnvExample.ComposeGroup],
            example.Variables.Select(v => v.Group).Distinct());
        Assert.DoesNotContain(example.Variables, v => AppVariables.Internal.Contains(v.Name));
    }

    [Fact]
    public async Task ComposePassesExBuyContainersOnlyVariablesTheAppReads()
    {
        using var empty = Compose.EmptyEnvFile();
        var services = (await Compose.ConfigAsync(empty.Path, Compose.ProfileServices.Keys, Ct))["services"]!.AsObject();
        foreach (var name in Compose.ExBuyServices)
        {
            var passed = services[name]!["environment"]!.AsObject().Select(e => e.Key).ToList();
            var unknown = passed.Except(AppVariables.Settings).ToList();
            Assert.True(unknown.Count == 0, $"{Compose.File}: {name} sets {string.Join(", ", unknown)}, which the app does not read");
            Assert.Equal("api", (string)services[name]!["build"]!["target"]!);
        }
    }

    [Fact]
    public void EveryComposeVariableIsDocumentedWithTheSameDefault()
    {
        var example = EnvExample.Load();
        var used = Compose.Interpolations().ToList();
        foreach (var (name, fallback) in used)
        {
            var documented = example.Find(name);
            Assert.True(documented is not null, $"{Compose.File} uses ${{{name}}}, which {EnvExample.Path} does not document");
            Assert.True(fallback is not null, $"{Compose.File}: write ${{{name}:-default}}, so the file works without .env");
            Assert.True(documented!.Value == fallback, $"{name}: {Compose.File} defaults to '{fallback}', {EnvExample.Path} says '{documented.Value}'");
        }

        var composeOnly = example.ComposeVariables.Select(v => v.Name).ToList();
        var unused = composeOnly.Except(used.Select(u => u.Name)).ToList();
        Assert.True(unused.Count == 0, $"{EnvExample.Path} documents {string.Join(", ", unused)} for compose, which {Compose.File} does not use");
        var shadowing = composeOnly.Intersect(AppVariables.All).ToList();
        Assert.True(shadowing.Count == 0, $"{string.Join(", ", shadowing)} are app variables: document them in an app group");
        Assert.All(example.ComposeVariables, v => Assert.False(v.Commented, $"{v.Name}: compose variables are set to their default"));
    }

    [Fact]
    public void AppVariablesAreFixedByComposeOrPassedThrough()
    {
        // "compose: fixed" in .env.example ⇔ the compose file sets the variable itself instead of passing ${NAME}.
        var passedThrough = Compose.Interpolations().Select(i => i.Name).ToHashSet();
        foreach (var v in EnvExample.Load().AppVariables)
        {
            var isFixed = v.Description.Contains(ComposeFixed, StringComparison.Ordinal);
            Assert.True(isFixed != passedThrough.Contains(v.Name),
                isFixed
                    ? $"{v.Name} is marked '{ComposeFixed}' in {EnvExample.Path}, but {Compose.File} takes it from the environment"
                    : $"{v.Name} is not passed by {Compose.File}: pass ${{{v.Name}:-{v.Value}}} or mark it '{ComposeFixed}' in {EnvExample.Path}");
        }
    }

    [Fact]
    public void NoSecretIsWrittenIntoTheComposeFile()
    {
        // Passwords and tokens come from the environment (.env) with a documented default, never as literals.
        var text = Compose.Text;
        foreach (var line in text.Split('\n').Where(l => !l.TrimStart().StartsWith('#')))
        {
            var m = Regex.Match(line, @"^\s*(?<key>[A-Z_]*(PASSWORD|PASS|TOKEN|SECRET)[A-Z_]*):\s*(?<value>.*)$");
            if (m.Success)
            {
                Assert.Matches(@"^\$\{[A-Z_]+:-[^}]*\}$", m.Groups["value"].Value.Trim());
            }
        }
        Assert.Equal("", EnvExample.Load().Find("ADMIN_TOKEN")!.Value);
    }
}
