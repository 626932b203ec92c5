using System.Net.Sockets;

namespace Ipop.Tincan.Api.Tests;

/// <summary>Where the socket may live, what it replaces, and who can connect to it.</summary>
public sealed class SocketSecurityTests
{
    [Fact]
    public async Task Socket_file_is_created_with_mode_0600()
    {
        await using ApiHarness h = await ApiHarness.StartAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(h.SocketPath));
        Assert.True(Internal.UnixSocketFile.Stat(h.SocketPath, followSymlinks: false).IsSocket);
    }

    [Fact]
    public async Task Socket_file_is_removed_on_dispose()
    {
        ApiHarness h = await ApiHarness.StartAsync();
        string path = h.SocketPath;
        string dir = h.Directory;
        await h.Server.DisposeAsync();
        Assert.False(File.Exists(path) || Internal.UnixSocketFile.Stat(path, followSymlinks: false).Exists);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task World_writable_directory_without_sticky_bit_is_refused()
    {
        string dir = Directory.CreateTempSubdirectory("ipop-api-unsafe-").FullName;
        try
        {
            File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("777", 8));
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ApiHarness.StartAsync(directory: dir));
            Assert.Contains("world-writable without the sticky bit", e.Message, StringComparison.Ordinal);
            Assert.Contains(dir, e.Message, StringComparison.Ordinal);
            Assert.False(Directory.Exists(dir) && File.Exists(Path.Combine(dir, "tincan.sock")));
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task World_writable_directory_with_sticky_bit_is_accepted()
    {
        string dir = Directory.CreateTempSubdirectory("ipop-api-sticky-").FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("1777", 8));
        await using ApiHarness h = await ApiHarness.StartAsync(directory: dir);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(h.SocketPath));
    }

    [Fact]
    public async Task A_regular_file_at_the_socket_path_is_refused_and_left_alone()
    {
        string dir = Directory.CreateTempSubdirectory("ipop-api-file-").FullName;
        try
        {
            string path = Path.Combine(dir, "tincan.sock");
            await File.WriteAllTextAsync(path, "precious", TestContext.Current.CancellationToken);
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ApiHarness.StartAsync(directory: dir));
            Assert.Contains("is not a socket", e.Message, StringComparison.Ordinal);
            Assert.Equal("precious", await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_stale_socket_left_by_a_dead_process_is_replaced()
    {
        // .NET unlinks a bound socket's file on dispose, so a process that exits without cleaning up is played by python3.
        Assert.SkipUnless(PythonController.Python is not null, "python3 is not installed");
        string dir = Directory.CreateTempSubdirectory("ipop-api-stale-").FullName;
        string path = Path.Combine(dir, "tincan.sock");
        using (var python = System.Diagnostics.Process.Start(PythonController.Python!, ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path]))
        {
            await python.WaitForExitAsync(TestContext.Current.CancellationToken);
            Assert.Equal(0, python.ExitCode);
        }

        Assert.True(Internal.UnixSocketFile.Stat(path, followSymlinks: false).IsSocket);
        await using ApiHarness h = await ApiHarness.StartAsync(directory: dir);
        TestClient c = await h.ConnectAsync();
        await c.OkAsync("version");
    }

    [Fact]
    public async Task A_socket_with_a_live_server_is_not_stolen()
    {
        await using ApiHarness first = await ApiHarness.StartAsync();
        string unused = Directory.CreateTempSubdirectory("ipop-api-unused-").FullName;
        try
        {
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ApiHarness.StartAsync(directory: unused, configure: o => o.SocketPath = first.SocketPath));
            Assert.Contains("in use by another running server", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(unused, recursive: true);
        }

        Assert.True(Internal.UnixSocketFile.Stat(first.SocketPath, followSymlinks: false).IsSocket);
        TestClient c = await first.ConnectAsync();
        await c.OkAsync("version");
    }

    [Fact]
    public async Task Invalid_options_are_refused_with_messages_that_name_each_setting()
    {
        var options = new ControllerApiOptions { SocketPath = "relative.sock", MaxRequestBytes = 10, ClientQueueCapacity = 1, MaxClients = 0, MinStatsInterval = TimeSpan.Zero };
        var e = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => new ControllerApiServer(Microsoft.Extensions.Options.Options.Create(options), new FakeTincan(1)));
        Assert.Equal(
            [
                "ControllerApi:SocketPath must be an absolute path; got 'relative.sock'.",
                "ControllerApi:MaxRequestBytes must be between 1024 and 16777216; got 10.",
                "ControllerApi:ClientQueueCapacity must be between 8 and 65536; got 1.",
                "ControllerApi:MaxClients must be between 1 and 1024; got 0.",
                "ControllerApi:MinStatsInterval must be between 00:00:00.010 and 01:00:00; got 00:00:00.",
            ],
            e.Failures);
        await Task.CompletedTask;
    }

    [Fact]
    public void Socket_path_longer_than_sun_path_is_refused()
    {
        var result = new ControllerApiOptionsValidator().Validate(null, new ControllerApiOptions { SocketPath = "/tmp/" + new string('x', 120) });
        Assert.Equal("ControllerApi:SocketPath is 125 bytes; a Unix socket path holds at most 107.", Assert.Single(result.Failures!));
    }
}
