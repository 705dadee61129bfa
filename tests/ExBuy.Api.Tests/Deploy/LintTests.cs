using System.Text.RegularExpressions;
using ExBuy.Api.Tests.Observability;

namespace ExBuy.Api.Tests.Deploy;

/// <summary>
/// ShellCheck on every shell script and yamllint (strict, with the repository's .yamllint) on every YAML file, both
/// discovered in the checkout: a script or YAML file added later is checked without touching this test.
/// </summary>
public sealed partial class LintTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ShellCheckPassesOnEveryShellScript()
    {
        var shellcheck = Tools.Require("shellcheck", "apt-get install -y shellcheck");
        var scripts = (await RepoFiles.ListAsync(Ct)).Where(f => f.EndsWith(".sh", StringComparison.Ordinal)
            || ShellShebang().IsMatch(RepoFiles.FirstLine(Repo.File(f)))).ToList();
        Assert.Contains(".ci/run", scripts);
        Assert.Contains(scripts, s => s.StartsWith("bench/", StringComparison.Ordinal));

        var (exit, output) = await RepoFiles.LintAsync(shellcheck, [.. scripts], Ct);
        Assert.True(exit == 0, $"shellcheck found problems in {scripts.Count} scripts:\n{output}");
    }

    [Fact]
    public async Task YamllintStrictPassesOnEveryYamlFile()
    {
        var yamllint = Tools.Require("yamllint", "apt-get install -y yamllint");
        var files = (await RepoFiles.ListAsync(Ct)).Where(f => f.EndsWith(".yml", StringComparison.Ordinal)
            || f.EndsWith(".yaml", StringComparison.Ordinal) || f == ".yamllint").ToList();
        Assert.Contains(Compose.File, files);
        Assert.Contains("deploy/prometheus/prometheus.yml", files);
        Assert.Contains(".yamllint", files);

        var (exit, output) = await RepoFiles.LintAsync(yamllint, ["--strict", "--config-file", Repo.File(".yamllint"), .. files], Ct);
        Assert.True(exit == 0, $"yamllint --strict found problems in {files.Count} files:\n{output}");
    }

    // #!/bin/sh, #!/bin/bash, #!/usr/bin/env bash, #!/bin/dash, with or without options.
    [GeneratedRegex(@"^#!\s*(/usr)?/bin/(env\s+)?(ba|da|k)?sh(\s|$)")]
    private static partial Regex ShellShebang();
}
