using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ExBuy.Api.Commands;
using ExBuy.Api.Tests.Observability;

namespace ExBuy.Api.Tests.Deploy;

/// <summary>
/// The Dockerfile read as its instructions (no container engine here: the images are not built by the tests) and
/// checked against the app: the published dlls, the listen port, the health check command, the user, the layers.
/// </summary>
public sealed partial class Dockerfile
{
    public const string Path = "Dockerfile";

    public sealed record Instruction(string Keyword, string Arguments);

    public sealed record Stage(string Base, string Name, IReadOnlyList<Instruction> Instructions)
    {
        public IEnumerable<string> All(string keyword) =>
            Instructions.Where(i => i.Keyword == keyword).Select(i => i.Arguments);

        public string? Last(string keyword) => All(keyword).LastOrDefault();

        /// <summary>An exec-form (JSON array) argument list, e.g. ENTRYPOINT ["dotnet", "x.dll"].</summary>
        public static string[] Exec(string arguments) => JsonSerializer.Deserialize<string[]>(arguments)!;

        /// <summary>ENV's and ARG's NAME=value pairs (ARG without a value: empty).</summary>
        public IEnumerable<(string Keyword, string Name, string Value)> Variables() =>
            Instructions.Where(i => i.Keyword is "ENV" or "ARG")
                .SelectMany(i => Assignment().Matches(i.Arguments).Select(m => (i.Keyword, m.Groups["name"].Value, m.Groups["value"].Value)));

        /// <summary>HEALTHCHECK's command, after its options and CMD.</summary>
        public string[] HealthCheck
        {
            get
            {
                var text = Last("HEALTHCHECK") ?? throw new InvalidOperationException($"stage {Name} has no HEALTHCHECK");
                var cmd = text.IndexOf("CMD", StringComparison.Ordinal);
                return Exec(text[(cmd + 3)..].Trim());
            }
        }
    }

    public IReadOnlyList<Stage> Stages { get; }

    private Dockerfile(IReadOnlyList<Stage> stages) => Stages = stages;

    public Stage this[string name] => Stages.Single(s => s.Name == name);

    /// <summary>The API image: the default (last) stage.</summary>
    public Stage Api => Stages[^1];

    public static Dockerfile Load()
    {
        var stages = new List<Stage>();
        List<Instruction>? current = null;
        foreach (var (keyword, arguments) in Instructions(File.ReadAllText(Repo.File(Path))))
        {
            if (keyword == "FROM")
            {
                var m = From().Match(arguments);
                Assert.True(m.Success, $"FROM {arguments}: name every stage (FROM image AS name)");
                current = [];
                stages.Add(new Stage(m.Groups["base"].Value, m.Groups["name"].Value, current));
                continue;
            }
            Assert.True(current is not null, $"{keyword} before the first FROM");
            current!.Add(new Instruction(keyword, arguments));
        }
        return new Dockerfile(stages);
    }

    /// <summary>Instructions with their continuation lines joined, comments and blank lines dropped.</summary>
    private static IEnumerable<(string Keyword, string Arguments)> Instructions(string text)
    {
        var pending = "";
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.TrimStart().StartsWith('#') || (line.Length == 0 && pending.Length == 0))
            {
                continue;
            }
            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }
            var full = (pending + line).Trim();
            pending = "";
            if (full.Length == 0)
            {
                continue;
            }
            var space = full.IndexOf(' ', StringComparison.Ordinal);
            yield return space < 0
                ? (full.ToUpperInvariant(), "")
                : (full[..space].ToUpperInvariant(), Regex.Replace(full[(space + 1)..].Trim(), @"\s+", " "));
        }
    }

    [GeneratedRegex(@"^(?:--platform=\S+\s+)?(?<base>\S+)\s+AS\s+(?<name>\S+)$", RegexOptions.IgnoreCase)]
    private static partial Regex From();

    [GeneratedRegex(@"(?<name>[A-Za-z_][A-Za-z0-9_]*)(?:=(?<value>""[^""]*""|\S*))?")]
    private static partial Regex Assignment();
}

public sealed class DockerfileTests
{
    private static readonly Dockerfile Spec = Dockerfile.Load();

    [Fact]
    public void BuildsOnTheSdkAndShipsTheApiOnAspNetAndTheRunnerOnTheRuntime()
    {
        Assert.Equal(["build", "load", "api"], Spec.Stages.Select(s => s.Name));
        Assert.Equal("mcr.microsoft.com/dotnet/sdk:10.0", Spec["build"].Base);
        Assert.Equal("mcr.microsoft.com/dotnet/runtime:10.0", Spec["load"].Base);
        Assert.Equal("mcr.microsoft.com/dotnet/aspnet:10.0", Spec.Api.Base);
        // global.json's SDK must be one the 10.0 image can satisfy: 10.0.x, rolling forward to its newer feature bands.
        using var global = JsonDocument.Parse(System.IO.File.ReadAllText(Repo.File("global.json")));
        Assert.StartsWith("10.0.", global.RootElement.GetProperty("sdk").GetProperty("version").GetString(), StringComparison.Ordinal);
        Assert.Contains(global.RootElement.GetProperty("sdk").GetProperty("rollForward").GetString(),
            new[] { "latestFeature", "latestMajor", "latestMinor", "major", "minor", "feature" });
    }

    [Fact]
    public void EntrypointsRunThePublishedAssemblies()
    {
        var api = typeof(Hosting).Assembly.GetName().Name + ".dll";
        Assert.Equal(["dotnet", api], Dockerfile.Stage.Exec(Spec.Api.Last("ENTRYPOINT")!));
        Assert.True(System.IO.File.Exists(System.IO.Path.Combine(AppContext.BaseDirectory, api)), $"{api} is not in the build output");

        var runner = XDocument.Load(Repo.File("src/ExBuy.Load/ExBuy.Load.csproj")).Descendants("AssemblyName").Single().Value + ".dll";
        Assert.Equal(["dotnet", runner], Dockerfile.Stage.Exec(Spec["load"].Last("ENTRYPOINT")!));
        // The runner finds load/scenarios.json upwards from its working directory: the image copies load/ into it.
        Assert.Equal("/app", Spec["load"].Last("WORKDIR"));
        Assert.Contains("load/ ./load/", Spec["load"].All("COPY"));
    }

    [Fact]
    public void ExposesTheListenPortAndTheHealthCheckFindsItOnLoopback()
    {
        var env = Spec.Api.Variables().Where(v => v.Keyword == "ENV").ToDictionary(v => v.Name, v => v.Value);
        var urls = env["ASPNETCORE_URLS"];
        var port = new Uri(urls.Replace("://+", "://localhost", StringComparison.Ordinal)).Port;
        Assert.Equal([$"{port}"], Spec.Api.All("EXPOSE"));
        Assert.Equal($"http://127.0.0.1:{port}{HealthCheckCommand.ReadyPath}", HealthCheckCommand.Target([], urls).ToString());
        // The base image's ASPNETCORE_HTTP_PORTS would be a second listen setting: cleared.
        Assert.Equal("", env["ASPNETCORE_HTTP_PORTS"]);

        Assert.Equal(["dotnet", typeof(Hosting).Assembly.GetName().Name + ".dll", "healthcheck"], Spec.Api.HealthCheck);
        Assert.Matches(@"--interval=\d+s --timeout=\d+s --start-period=\d+s --retries=\d+ CMD", Spec.Api.Last("HEALTHCHECK")!);
    }

    [Fact]
    public void RunsAsTheImagesNonRootUserWithOnlyItsDataWritable()
    {
        foreach (var stage in new[] { Spec.Api, Spec["load"] })
        {
            var user = stage.Last("USER");
            Assert.True(user is "$APP_UID" or "${APP_UID}", $"stage {stage.Name}: USER {user} (use the image's non-root app user, $APP_UID)");
            // USER comes after every RUN: nothing of the app is written as root at run time.
            var instructions = stage.Instructions.ToList();
            Assert.True(instructions.FindLastIndex(i => i.Keyword == "RUN") < instructions.FindLastIndex(i => i.Keyword == "USER"));
        }
        var env = Spec.Api.Variables().Where(v => v.Keyword == "ENV").ToDictionary(v => v.Name, v => v.Value);
        Assert.StartsWith("/app/data/", env["DB_PATH"], StringComparison.Ordinal);
        Assert.StartsWith("/app/data/", env["UPLOAD_DIR"], StringComparison.Ordinal);
        Assert.Contains(Spec.Api.All("RUN"), r => r.Contains("mkdir -p /app/data/uploads", StringComparison.Ordinal)
            && r.Contains("chown -R \"$APP_UID:$APP_UID\" /app/data", StringComparison.Ordinal));
    }

    [Fact]
    public void BakesInNoSecretAndOnlyVariablesSomethingReads()
    {
        foreach (var stage in Spec.Stages)
        {
            foreach (var (keyword, name, _) in stage.Variables())
            {
                Assert.DoesNotMatch("(?i)PASSWORD|PASS$|TOKEN|SECRET|API_?KEY", name);
                Assert.True(AppVariables.Settings.Contains(name) || name.StartsWith("DOTNET_", StringComparison.Ordinal)
                    || name is "ASPNETCORE_HTTP_PORTS" or "TARGETARCH" or "PUBLISH_PROFILE",
                    $"stage {stage.Name}: {keyword} {name} is read by neither the app, the runtime nor the build");
            }
        }
        // The commit reaches /api/info (EXBUY_COMMIT) and the image label.
        Assert.Contains(Spec.Api.Variables(), v => v is ("ARG", "EXBUY_COMMIT", "unknown"));
        Assert.Contains(Spec.Api.Variables(), v => v is ("ENV", "EXBUY_COMMIT", "${EXBUY_COMMIT}"));
        Assert.Contains("org.opencontainers.image.revision=\"${EXBUY_COMMIT}\"", Spec.Api.Last("LABEL")!, StringComparison.Ordinal);
    }

    [Fact]
    public void RestoreLayerCopiesOnlyProjectAndPropsFiles()
    {
        var build = Spec["build"].Instructions.ToList();
        var restore = build.FindIndex(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet restore", StringComparison.Ordinal));
        var publish = build.FindIndex(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal));
        Assert.True(restore >= 0 && publish > restore, "dotnet restore runs in its own layer before dotnet publish");
        var before = build.Take(restore).Where(i => i.Keyword == "COPY").SelectMany(i => Sources(i.Arguments)).ToList();
        Assert.NotEmpty(before);
        Assert.All(before, source => Assert.Matches(@"(^|/)(global\.json|Directory\.(Build|Packages)\.props|[^/]+\.csproj|nuget\.config)$", source));
        // Every project the published ones reference is restored from its own csproj copy.
        foreach (var project in new[]
        {
            "src/ExBuy.Api/ExBuy.Api.csproj", "src/ExBuy.Load/ExBuy.Load.csproj", "Directory.Packages.props", "Directory.Build.props", "global.json",
        })
        {
            Assert.Contains(project, before);
        }
        Assert.Contains("-p:PublishProfile=\"$PUBLISH_PROFILE\"", build[publish].Arguments, StringComparison.Ordinal);
        Assert.Contains(Spec["build"].Variables(), v => v is ("ARG", "PUBLISH_PROFILE", "ReadyToRun"));
    }

    [Fact]
    public void EveryCopiedFileExistsAndTheContextLeavesOutLocalState()
    {
        foreach (var stage in Spec.Stages)
        {
            foreach (var copy in stage.All("COPY").Where(c => !c.StartsWith("--from=", StringComparison.Ordinal)))
            {
                foreach (var source in Sources(copy))
                {
                    Assert.True(System.IO.File.Exists(Repo.File(source)) || Directory.Exists(Repo.File(source)), $"COPY {source}: not in the repository");
                }
            }
        }
        var ignored = System.IO.File.ReadAllLines(Repo.File(".dockerignore")).Select(l => l.Trim()).ToHashSet();
        Assert.Superset(new HashSet<string> { "**/bin/", "**/obj/", "results/", "uploads/", "**/*.db", ".git/", ".env" }, ignored);
        // ...but not what the Dockerfile copies.
        Assert.DoesNotContain("src/", ignored);
        Assert.DoesNotContain("load/", ignored);
    }

    /// <summary>COPY's sources: every argument but the options and the destination.</summary>
    private static string[] Sources(string arguments)
    {
        var parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("--", StringComparison.Ordinal)).ToArray();
        return parts[..^1];
    }
}
