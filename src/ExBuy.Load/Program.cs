using ExBuy.Load;

return await Cli.Create().RunAsync(args);
